"""Every query of subscriptions and their line items."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.rows import in_environment
from meterline.db.search import Search, finish, searched
from meterline.pricing.models import Price
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

LIVE_STATUSES = ("active", "trialing")
COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Subscription.id,
    "customer_id": Subscription.customer_id,
    "plan_id": Subscription.plan_id,
    "subscription_status": Subscription.subscription_status,
    "currency": Subscription.currency,
    "billing_period": Subscription.billing_period,
    "start_date": Subscription.start_date,
    "current_period_start": Subscription.current_period_start,
    "current_period_end": Subscription.current_period_end,
    "lookup_key": Subscription.lookup_key,
    "status": Subscription.status,
    "created_at": Subscription.created_at,
    "updated_at": Subscription.updated_at,
}


def subscription(
    session: Session, environment_id: str, subscription_id: str
) -> Subscription | None:
    return in_environment(session, Subscription, environment_id, Subscription.id == subscription_id)


def lock(session: Session, sub: Subscription) -> Subscription:
    """``sub`` re-read under its row lock (PostgreSQL; SQLite's write transaction already
    excludes other writers), so a billing clock closing it meanwhile is waited for."""
    locked = session.scalars(
        select(Subscription)
        .where(Subscription.id == sub.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return locked


def live_for_customer(
    session: Session, environment_id: str, customer_id: str
) -> list[Subscription]:
    """The customer's active and trialing subscriptions, oldest first."""
    return list(
        session.scalars(
            select(Subscription)
            .where(
                Subscription.environment_id == environment_id,
                Subscription.customer_id == customer_id,
                Subscription.subscription_status.in_(LIVE_STATUSES),
                Subscription.status == "published",
            )
            .order_by(Subscription.start_date, Subscription.id)
        )
    )


def has_live_subscription(session: Session, environment_id: str, customer_id: str) -> bool:
    return bool(live_for_customer(session, environment_id, customer_id))


def line_items(session: Session, subscription_ids: Sequence[str]) -> list[SubscriptionLineItem]:
    if not subscription_ids:
        return []
    return list(
        session.scalars(
            select(SubscriptionLineItem)
            .where(
                SubscriptionLineItem.subscription_id.in_(subscription_ids),
                SubscriptionLineItem.status == "published",
            )
            .order_by(SubscriptionLineItem.created_at, SubscriptionLineItem.id)
        )
    )


# Every Meterline subscription is a recurring, standalone one with no parent: a filter asking
# for another cadence, type or a parent matches none of them.
BILLING_CADENCES = ("RECURRING",)
SUBSCRIPTION_TYPES = ("standalone",)


@dataclass(frozen=True)
class SubscriptionQuery(Search):
    """What a subscription search selects; every field set narrows the result."""

    subscription_ids: Sequence[str] | None = None
    customer_ids: Sequence[str] | None = None
    plan_id: str | None = None
    subscription_statuses: Sequence[str] | None = None
    billing_periods: Sequence[str] | None = None
    billing_cadences: Sequence[str] | None = None
    subscription_types: Sequence[str] | None = None
    parent_subscription_ids: Sequence[str] | None = None
    active_at: datetime | None = None
    trial_end_due_lte: datetime | None = None


def search(
    session: Session, environment_id: str, q: SubscriptionQuery, *, limit: int, offset: int
) -> tuple[list[Subscription], int]:
    stmt = searched(Subscription, environment_id, q)
    if q.subscription_ids:
        stmt = stmt.where(Subscription.id.in_(list(q.subscription_ids)))
    if q.customer_ids is not None:
        stmt = stmt.where(Subscription.customer_id.in_(list(q.customer_ids)))
    if q.plan_id:
        stmt = stmt.where(Subscription.plan_id == q.plan_id)
    if q.subscription_statuses:
        stmt = stmt.where(Subscription.subscription_status.in_(list(q.subscription_statuses)))
    if q.billing_periods:
        stmt = stmt.where(Subscription.billing_period.in_(list(q.billing_periods)))
    if q.billing_cadences and not set(q.billing_cadences) & set(BILLING_CADENCES):
        stmt = stmt.where(false())
    if q.subscription_types and not set(q.subscription_types) & set(SUBSCRIPTION_TYPES):
        stmt = stmt.where(false())
    if q.parent_subscription_ids:
        stmt = stmt.where(false())
    if q.active_at is not None:
        stmt = stmt.where(
            Subscription.start_date <= q.active_at,
            or_(Subscription.end_date.is_(None), Subscription.end_date > q.active_at),
            or_(Subscription.cancelled_at.is_(None), Subscription.cancelled_at > q.active_at),
        )
    if q.trial_end_due_lte is not None:
        stmt = stmt.where(
            Subscription.trial_end.is_not(None), Subscription.trial_end <= q.trial_end_due_lte
        )
    return finish(session, stmt, Subscription, q, COLUMNS, limit=limit, offset=offset)


def active_fixed_items(
    session: Session, environment_id: str, now: datetime
) -> Iterator[tuple[SubscriptionLineItem, Price]]:
    """Each FIXED line item live at ``now`` on an active subscription, with its price: what
    recurs (the dashboard's MRR). Streamed, so a large environment is read in pages."""
    stmt = (
        select(SubscriptionLineItem, Price)
        .join(Subscription, Subscription.id == SubscriptionLineItem.subscription_id)
        .join(Price, Price.id == SubscriptionLineItem.price_id)
        .where(
            Subscription.environment_id == environment_id,
            Subscription.subscription_status == "active",
            Subscription.status == "published",
            SubscriptionLineItem.status == "published",
            SubscriptionLineItem.price_type == "FIXED",
            SubscriptionLineItem.start_date <= now,
            or_(SubscriptionLineItem.end_date.is_(None), SubscriptionLineItem.end_date > now),
        )
        .order_by(SubscriptionLineItem.id)
        .execution_options(yield_per=500)
    )
    yield from session.execute(stmt).tuples()
