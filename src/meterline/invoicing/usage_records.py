"""Usage records: what a subscription was billed for usage in one billing period.

A usage record is read from the invoices, not stored apart: the USAGE lines of the
subscription's invoices (voided ones left out) grouped by the line's service period. Its
``quantity`` and ``amount`` are the sums of those lines, its ``created_at`` the first of
their invoices' and ``updated_at`` the last. The id is derived from the subscription and the
period (``usage_rec_`` and 24 hex digits), so a record keeps its id across reads. Meterline
syncs usage to no marketplace: ``synced`` is false on every record, and ``syncs`` empty.

The creation range (``start_time``/``end_time``) and the generic ``filters`` select the
lines a record is made of; the filters take the record's own columns (subscription,
customer, plan, currency, period).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.search import apply_filters, created_between
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.kernel.money import ZERO, in_money_context
from meterline.subscriptions.models import Subscription

ORDERS = ("asc", "desc")
COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "subscription_id": InvoiceLineItem.subscription_id,
    "customer_id": InvoiceLineItem.customer_id,
    "plan_id": Subscription.plan_id,
    "currency": InvoiceLineItem.currency,
    "period_start": InvoiceLineItem.period_start,
    "period_end": InvoiceLineItem.period_end,
}


@dataclass(frozen=True)
class UsageRecord:
    id: str
    environment_id: str
    subscription_id: str
    customer_id: str
    plan_id: str
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    quantity: Decimal
    amount: Decimal
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class UsageRecordQuery:
    customer_id: str | None = None
    customer_external_id: str | None = None
    subscription_id: str | None = None
    plan_id: str | None = None
    currency: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    synced: bool | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | None = None
    order: str | None = None


def record_id(subscription_id: str, start: datetime | None, end: datetime | None) -> str:
    key = f"{subscription_id}|{start.isoformat() if start else ''}|{end.isoformat() if end else ''}"
    return "usage_rec_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _sort(q: UsageRecordQuery) -> list[Any]:
    pairs: list[tuple[str, str]] = []
    for item in q.sort or ():
        pairs.append((item.field, (item.direction or "desc").lower()))
    if not pairs:
        pairs.append(("period_start", (q.order or "desc").lower()))
    clauses = []
    for field, direction in pairs:
        column = COLUMNS.get(field)
        if column is None:
            raise InvalidRequest(
                f"cannot sort usage records by {field}",
                field="sort",
                details={"allowed_values": sorted(COLUMNS), "provided_value": field},
            )
        if direction not in ORDERS:
            raise InvalidRequest("a sort direction is asc or desc", field="sort")
        clauses.append(column.asc() if direction == "asc" else column.desc())
    return clauses


def _lines(session: Session, principal: Principal, q: UsageRecordQuery) -> Any:
    stmt = (
        select(InvoiceLineItem)
        .join(Invoice, Invoice.id == InvoiceLineItem.invoice_id)
        .join(Subscription, Subscription.id == InvoiceLineItem.subscription_id)
        .where(
            InvoiceLineItem.environment_id == principal.environment_id,
            InvoiceLineItem.price_type == "USAGE",
            InvoiceLineItem.status == "published",
            Invoice.status == "published",
            Invoice.invoice_status != "VOIDED",
        )
    )
    customer_id = q.customer_id
    if q.customer_external_id:
        try:
            found = customers.get_customer_by_external_id(
                session, principal, q.customer_external_id
            )
        except NotFound:
            return None
        if customer_id and customer_id != found.id:
            return None
        customer_id = found.id
    for column, value in (
        (InvoiceLineItem.customer_id, customer_id),
        (InvoiceLineItem.subscription_id, q.subscription_id),
        (Subscription.plan_id, q.plan_id),
        (InvoiceLineItem.currency, q.currency.lower() if q.currency else None),
        (InvoiceLineItem.period_start, q.period_start),
        (InvoiceLineItem.period_end, q.period_end),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.where(*created_between(Invoice.created_at, q.start_time, q.end_time))
    return apply_filters(stmt, q.filters, COLUMNS)


@in_money_context
def search_usage_records(
    session: Session, principal: Principal, q: UsageRecordQuery, *, limit: int, offset: int
) -> tuple[list[UsageRecord], int]:
    if q.status not in (None, "published"):
        return [], 0  # records are never archived or deleted
    if q.synced:
        return [], 0  # nothing is synced to a marketplace
    lines = _lines(session, principal, q)
    if lines is None:
        return [], 0
    keys = lines.with_only_columns(
        InvoiceLineItem.subscription_id,
        InvoiceLineItem.period_start,
        InvoiceLineItem.period_end,
        InvoiceLineItem.customer_id,
        Subscription.plan_id,
        InvoiceLineItem.currency,
    ).group_by(
        InvoiceLineItem.subscription_id,
        InvoiceLineItem.period_start,
        InvoiceLineItem.period_end,
        InvoiceLineItem.customer_id,
        Subscription.plan_id,
        InvoiceLineItem.currency,
    )
    total = session.scalar(select(func.count()).select_from(keys.subquery())) or 0
    page = session.execute(keys.order_by(*_sort(q)).limit(limit).offset(offset)).all()
    if not page:
        return [], total
    wanted = [(row[0], row[1], row[2]) for row in page]
    members = session.execute(
        lines.add_columns(Invoice.created_at, Invoice.updated_at).where(
            tuple_(
                InvoiceLineItem.subscription_id,
                InvoiceLineItem.period_start,
                InvoiceLineItem.period_end,
            ).in_(wanted)
        )
    ).all()
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for line, created, updated in members:
        key = (line.subscription_id, line.period_start, line.period_end)
        acc = sums.setdefault(key, [ZERO, ZERO, created, updated])
        acc[0] += line.quantity
        acc[1] += line.amount
        acc[2] = min(acc[2], created)
        acc[3] = max(acc[3], updated)
    records = []
    for subscription_id, start, end, customer_id, plan_id, currency in page:
        quantity, amount, created, updated = sums[subscription_id, start, end]
        records.append(
            UsageRecord(
                id=record_id(subscription_id, start, end),
                environment_id=principal.environment_id,
                subscription_id=subscription_id,
                customer_id=customer_id,
                plan_id=plan_id,
                currency=currency,
                period_start=start,
                period_end=end,
                quantity=quantity,
                amount=amount,
                created_at=created,
                updated_at=updated,
            )
        )
    return records, total
