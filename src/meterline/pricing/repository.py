"""Every query of plans and prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.rows import by_ids, in_environment, published_in_environment
from meterline.db.search import Search, finish, metadata_has, searched
from meterline.pricing.models import Plan, Price

PLAN_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Plan.id,
    "name": Plan.name,
    "lookup_key": Plan.lookup_key,
    "description": Plan.description,
    "display_order": Plan.display_order,
    "status": Plan.status,
    "created_at": Plan.created_at,
    "updated_at": Plan.updated_at,
}
PRICE_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Price.id,
    "entity_type": Price.entity_type,
    "entity_id": Price.entity_id,
    "type": Price.type,
    "currency": Price.currency,
    "billing_model": Price.billing_model,
    "billing_period": Price.billing_period,
    "invoice_cadence": Price.invoice_cadence,
    "meter_id": Price.meter_id,
    "lookup_key": Price.lookup_key,
    "status": Price.status,
    "start_date": Price.start_date,
    "end_date": Price.end_date,
    "created_at": Price.created_at,
    "updated_at": Price.updated_at,
}


def plan(session: Session, environment_id: str, plan_id: str) -> Plan | None:
    return in_environment(session, Plan, environment_id, Plan.id == plan_id)


def plan_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Plan | None:
    return published_in_environment(session, Plan, environment_id, Plan.lookup_key == lookup_key)


def plans_by_id(session: Session, plan_ids: Sequence[str]) -> dict[str, Plan]:
    return by_ids(session, Plan, plan_ids)


def price(session: Session, environment_id: str, price_id: str) -> Price | None:
    return in_environment(session, Price, environment_id, Price.id == price_id)


def price_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Price | None:
    return published_in_environment(session, Price, environment_id, Price.lookup_key == lookup_key)


def prices_by_id(session: Session, price_ids: Sequence[str]) -> dict[str, Price]:
    return by_ids(session, Price, price_ids)


def active_prices(
    session: Session, environment_id: str, entity_type: str, entity_ids: Sequence[str], at: datetime
) -> list[Price]:
    """Published prices of the entities that have not ended by ``at``."""
    if not entity_ids:
        return []
    return list(
        session.scalars(
            select(Price)
            .where(
                Price.environment_id == environment_id,
                Price.entity_type == entity_type,
                Price.entity_id.in_(entity_ids),
                Price.status == "published",
                or_(Price.end_date.is_(None), Price.end_date > at),
            )
            .order_by(Price.created_at, Price.id)
        )
    )


def count_active_prices(session: Session, environment_id: str, entity_id: str, at: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Price)
            .where(
                Price.environment_id == environment_id,
                Price.entity_id == entity_id,
                Price.status == "published",
                or_(Price.end_date.is_(None), Price.end_date > at),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class PlanQuery(Search):
    """What a plan search selects; every field set narrows the result."""

    plan_ids: Sequence[str] | None = None
    lookup_key: str | None = None
    metadata: Mapping[str, str] | None = None


def search_plans(
    session: Session, environment_id: str, q: PlanQuery, limit: int, offset: int
) -> tuple[list[Plan], int]:
    stmt = searched(Plan, environment_id, q)
    if q.plan_ids:
        stmt = stmt.where(Plan.id.in_(list(q.plan_ids)))
    if q.lookup_key:
        stmt = stmt.where(Plan.lookup_key == q.lookup_key)
    stmt = stmt.where(*metadata_has(Plan.metadata_, q.metadata))
    return finish(session, stmt, Plan, q, PLAN_COLUMNS, limit, offset)


@dataclass(frozen=True)
class PriceQuery(Search):
    """What a price search selects; every field set narrows the result."""

    price_ids: Sequence[str] | None = None
    plan_ids: Sequence[str] | None = None
    entity_type: str | None = None
    entity_ids: Sequence[str] | None = None
    meter_ids: Sequence[str] | None = None
    billing_periods: Sequence[str] | None = None
    # Prices scoped to one subscription (entity type SUBSCRIPTION).
    subscription_id: str | None = None
    parent_price_id: str | None = None
    start_date_lt: datetime | None = None
    updated_after: datetime | None = None
    allow_expired: bool = False


def search_prices(
    session: Session, environment_id: str, q: PriceQuery, limit: int, offset: int, now: datetime
) -> tuple[list[Price], int]:
    stmt = searched(Price, environment_id, q)
    if not q.allow_expired:
        stmt = stmt.where(or_(Price.end_date.is_(None), Price.end_date > now))
    if q.price_ids:
        stmt = stmt.where(Price.id.in_(list(q.price_ids)))
    if q.plan_ids:
        stmt = stmt.where(Price.entity_type == "PLAN", Price.entity_id.in_(list(q.plan_ids)))
    if q.entity_type:
        stmt = stmt.where(Price.entity_type == q.entity_type)
    if q.entity_ids:
        stmt = stmt.where(Price.entity_id.in_(list(q.entity_ids)))
    if q.meter_ids:
        stmt = stmt.where(Price.meter_id.in_(list(q.meter_ids)))
    if q.billing_periods:
        stmt = stmt.where(Price.billing_period.in_(list(q.billing_periods)))
    if q.subscription_id:
        stmt = stmt.where(Price.entity_type == "SUBSCRIPTION", Price.entity_id == q.subscription_id)
    if q.parent_price_id:
        stmt = stmt.where(Price.parent_price_id == q.parent_price_id)
    if q.start_date_lt is not None:
        stmt = stmt.where(Price.start_date < q.start_date_lt)
    if q.updated_after is not None:
        stmt = stmt.where(Price.updated_at > q.updated_after)
    return finish(session, stmt, Price, q, PRICE_COLUMNS, limit, offset)
