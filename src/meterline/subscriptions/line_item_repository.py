"""The line item search: every query of ``POST /subscriptions/lineitems/search``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.search import Search, finish, searched
from meterline.subscriptions.models import SubscriptionLineItem

COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": SubscriptionLineItem.id,
    "subscription_id": SubscriptionLineItem.subscription_id,
    "customer_id": SubscriptionLineItem.customer_id,
    "entity_id": SubscriptionLineItem.entity_id,
    "entity_type": SubscriptionLineItem.entity_type,
    "price_id": SubscriptionLineItem.price_id,
    "price_type": SubscriptionLineItem.price_type,
    "meter_id": SubscriptionLineItem.meter_id,
    "display_name": SubscriptionLineItem.display_name,
    "currency": SubscriptionLineItem.currency,
    "billing_period": SubscriptionLineItem.billing_period,
    "invoice_cadence": SubscriptionLineItem.invoice_cadence,
    "quantity": SubscriptionLineItem.quantity,
    "start_date": SubscriptionLineItem.start_date,
    "end_date": SubscriptionLineItem.end_date,
    "status": SubscriptionLineItem.status,
    "created_at": SubscriptionLineItem.created_at,
    "updated_at": SubscriptionLineItem.updated_at,
}


@dataclass(frozen=True)
class LineItemQuery(Search):
    """What a line item search selects; every field set narrows the result. ``not_ended_at``:
    items that have not ended by then; ``on_at``: items running at that instant."""

    line_item_ids: Sequence[str] | None = None
    subscription_ids: Sequence[str] | None = None
    customer_ids: Sequence[str] | None = None
    price_ids: Sequence[str] | None = None
    meter_ids: Sequence[str] | None = None
    entity_ids: Sequence[str] | None = None
    entity_type: str | None = None
    currencies: Sequence[str] | None = None
    billing_periods: Sequence[str] | None = None
    not_ended_at: datetime | None = None
    on_at: datetime | None = None


def search(
    session: Session, environment_id: str, q: LineItemQuery, *, limit: int, offset: int
) -> tuple[list[SubscriptionLineItem], int]:
    item = SubscriptionLineItem
    stmt = searched(item, environment_id, q)
    for column, values in (
        (item.id, q.line_item_ids),
        (item.subscription_id, q.subscription_ids),
        (item.customer_id, q.customer_ids),
        (item.price_id, q.price_ids),
        (item.meter_id, q.meter_ids),
        (item.entity_id, q.entity_ids),
        (item.billing_period, q.billing_periods),
    ):
        if values:
            stmt = stmt.where(column.in_(list(values)))
    if q.currencies:
        stmt = stmt.where(func.lower(item.currency).in_([c.lower() for c in q.currencies]))
    if q.entity_type:
        stmt = stmt.where(item.entity_type == q.entity_type)
    if q.not_ended_at is not None:
        stmt = stmt.where(or_(item.end_date.is_(None), item.end_date > q.not_ended_at))
    if q.on_at is not None:
        stmt = stmt.where(
            item.start_date <= q.on_at, or_(item.end_date.is_(None), item.end_date > q.on_at)
        )
    return finish(session, stmt, item, q, COLUMNS, limit=limit, offset=offset)
