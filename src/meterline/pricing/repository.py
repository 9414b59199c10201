"""Every query of plans and prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.search import apply_filters, apply_sort, created_between, metadata_has, page
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
    return session.scalars(
        select(Plan).where(Plan.id == plan_id, Plan.environment_id == environment_id)
    ).first()


def plan_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Plan | None:
    return session.scalars(
        select(Plan).where(
            Plan.environment_id == environment_id,
            Plan.lookup_key == lookup_key,
            Plan.status == "published",
        )
    ).first()


def plans_by_id(session: Session, plan_ids: Sequence[str]) -> dict[str, Plan]:
    if not plan_ids:
        return {}
    return {p.id: p for p in session.scalars(select(Plan).where(Plan.id.in_(plan_ids)))}


def plan_query(environment_id: str) -> Select[Any]:
    return select(Plan).where(Plan.environment_id == environment_id)


def price(session: Session, environment_id: str, price_id: str) -> Price | None:
    return session.scalars(
        select(Price).where(Price.id == price_id, Price.environment_id == environment_id)
    ).first()


def price_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Price | None:
    return session.scalars(
        select(Price).where(
            Price.environment_id == environment_id,
            Price.lookup_key == lookup_key,
            Price.status == "published",
        )
    ).first()


def prices_by_id(session: Session, price_ids: Sequence[str]) -> dict[str, Price]:
    if not price_ids:
        return {}
    return {p.id: p for p in session.scalars(select(Price).where(Price.id.in_(price_ids)))}


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


def price_query(environment_id: str) -> Select[Any]:
    return select(Price).where(Price.environment_id == environment_id)


@dataclass(frozen=True)
class PlanQuery:
    """What a plan search selects; every field set narrows the result."""

    plan_ids: Sequence[str] | None = None
    lookup_key: str | None = None
    metadata: Mapping[str, str] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | str | None = None
    order: str | None = None


def search_plans(
    session: Session, environment_id: str, q: PlanQuery, limit: int, offset: int
) -> tuple[list[Plan], int]:
    stmt = plan_query(environment_id).where(Plan.status == (q.status or "published"))
    if q.plan_ids:
        stmt = stmt.where(Plan.id.in_(list(q.plan_ids)))
    if q.lookup_key:
        stmt = stmt.where(Plan.lookup_key == q.lookup_key)
    stmt = stmt.where(*metadata_has(Plan.metadata_, q.metadata))
    stmt = stmt.where(*created_between(Plan.created_at, q.start_time, q.end_time))
    stmt = apply_filters(stmt, q.filters, PLAN_COLUMNS)
    stmt = apply_sort(stmt, q.sort, q.order, PLAN_COLUMNS).order_by(Plan.id)
    return page(session, stmt, limit, offset)


@dataclass(frozen=True)
class PriceQuery:
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
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | str | None = None
    order: str | None = None


def search_prices(
    session: Session, environment_id: str, q: PriceQuery, limit: int, offset: int, now: datetime
) -> tuple[list[Price], int]:
    stmt = price_query(environment_id).where(Price.status == (q.status or "published"))
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
    stmt = stmt.where(*created_between(Price.created_at, q.start_time, q.end_time))
    stmt = apply_filters(stmt, q.filters, PRICE_COLUMNS)
    stmt = apply_sort(stmt, q.sort, q.order, PRICE_COLUMNS).order_by(Price.id)
    return page(session, stmt, limit, offset)
