"""Every query of subscriptions and their line items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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
    return session.scalars(
        select(Subscription).where(
            Subscription.id == subscription_id, Subscription.environment_id == environment_id
        )
    ).first()


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


def query(environment_id: str) -> Select[Any]:
    return select(Subscription).where(Subscription.environment_id == environment_id)
