"""Every query of grants (the ``entitlements`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.customers.models import Customer
from meterline.db.base import new_id
from meterline.entitlements.models import Consumption, Entitlement

COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Entitlement.id,
    "entity_type": Entitlement.entity_type,
    "entity_id": Entitlement.entity_id,
    "feature_id": Entitlement.feature_id,
    "feature_type": Entitlement.feature_type,
    "is_enabled": Entitlement.is_enabled,
    "is_soft_limit": Entitlement.is_soft_limit,
    "usage_reset_period": Entitlement.usage_reset_period,
    "status": Entitlement.status,
    "created_at": Entitlement.created_at,
    "updated_at": Entitlement.updated_at,
}


def get(session: Session, environment_id: str, entitlement_id: str) -> Entitlement | None:
    return session.scalars(
        select(Entitlement).where(
            Entitlement.id == entitlement_id, Entitlement.environment_id == environment_id
        )
    ).first()


def published_grant(
    session: Session, environment_id: str, entity_type: str, entity_id: str, feature_id: str
) -> Entitlement | None:
    return session.scalars(
        select(Entitlement).where(
            Entitlement.environment_id == environment_id,
            Entitlement.entity_type == entity_type,
            Entitlement.entity_id == entity_id,
            Entitlement.feature_id == feature_id,
            Entitlement.status == "published",
        )
    ).first()


def for_entities(
    session: Session,
    environment_id: str,
    entity_type: str,
    entity_ids: Sequence[str],
    feature_ids: Sequence[str] | None = None,
) -> list[Entitlement]:
    """Published grants of the entities, in display order."""
    if not entity_ids:
        return []
    stmt = select(Entitlement).where(
        Entitlement.environment_id == environment_id,
        Entitlement.entity_type == entity_type,
        Entitlement.entity_id.in_(entity_ids),
        Entitlement.status == "published",
    )
    if feature_ids:
        stmt = stmt.where(Entitlement.feature_id.in_(feature_ids))
    return list(session.scalars(stmt.order_by(Entitlement.display_order, Entitlement.created_at)))


def add_copy(
    session: Session, grant: Entitlement, *, entity_type: str, entity_id: str
) -> Entitlement:
    copy = Entitlement(
        **{
            column.key: getattr(grant, column.key)
            for column in Entitlement.__mapper__.column_attrs
            if column.key not in ("created_at", "updated_at")
        }
    )
    copy.id = new_id("ent")
    copy.entity_type = entity_type
    copy.entity_id = entity_id
    session.add(copy)
    return copy


def query(environment_id: str) -> Select[Any]:
    return select(Entitlement).where(Entitlement.environment_id == environment_id)


def lock_customer(session: Session, customer_id: str) -> None:
    """Serialize check-and-consume per customer.

    On PostgreSQL this takes the customer's row lock until the transaction ends; on SQLite
    the write transaction already holds the database write lock (``BEGIN IMMEDIATE``) and
    ``FOR UPDATE`` is not emitted.
    """
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def consumption(
    session: Session, environment_id: str, customer_id: str, feature_id: str, event_id: str
) -> Consumption | None:
    """The accepted consumption with this idempotency key, if any."""
    return session.scalars(
        select(Consumption).where(
            Consumption.environment_id == environment_id,
            Consumption.customer_id == customer_id,
            Consumption.feature_id == feature_id,
            Consumption.event_id == event_id,
        )
    ).first()
