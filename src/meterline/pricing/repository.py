"""Every query of plans and prices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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
