"""Every query of the alert settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.alerts.models import AlertLog, AlertSetting, AlertState
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.db.search import apply_sort, created_between, page
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.repository import LIVE_STATUSES


def get(session: Session, environment_id: str, setting_id: str) -> AlertSetting | None:
    return session.scalars(
        select(AlertSetting).where(
            AlertSetting.id == setting_id,
            AlertSetting.environment_id == environment_id,
            AlertSetting.status == "published",
        )
    ).first()


def of_entities(
    session: Session, environment_id: str, entity_type: str, entity_ids: Sequence[str]
) -> dict[str, AlertSetting]:
    """Entity id → its published setting, in one query."""
    if not entity_ids:
        return {}
    rows = session.scalars(
        select(AlertSetting).where(
            AlertSetting.environment_id == environment_id,
            AlertSetting.entity_type == entity_type,
            AlertSetting.entity_id.in_(list(entity_ids)),
            AlertSetting.status == "published",
        )
    ).all()
    return {row.entity_id: row for row in rows}


def enabled_entity_ids(session: Session, environment_id: str, entity_type: str) -> list[str]:
    """The entities of ``entity_type`` whose published settings are enabled."""
    return list(
        session.scalars(
            select(AlertSetting.entity_id).where(
                AlertSetting.environment_id == environment_id,
                AlertSetting.entity_type == entity_type,
                AlertSetting.status == "published",
                AlertSetting.enabled.is_(True),
            )
        ).all()
    )


COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": AlertSetting.id,
    "entity_id": AlertSetting.entity_id,
    "entity_type": AlertSetting.entity_type,
    "created_at": AlertSetting.created_at,
    "updated_at": AlertSetting.updated_at,
}


@dataclass(frozen=True)
class SettingQuery:
    enabled: bool | None = None
    entity_type: str | None = None
    entity_ids: Sequence[str] | None = None
    parent_entity_type: str | None = None
    parent_entity_ids: Sequence[str] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None


def search(
    session: Session,
    environment_id: str,
    q: SettingQuery,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None,
    order: str | None,
) -> tuple[list[AlertSetting], int]:
    a = AlertSetting
    stmt = select(a).where(
        a.environment_id == environment_id, a.status == (q.status or "published")
    )
    for column, value in (
        (a.enabled, q.enabled),
        (a.entity_type, q.entity_type),
        (a.parent_entity_type, q.parent_entity_type),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.entity_ids:
        stmt = stmt.where(a.entity_id.in_(list(q.entity_ids)))
    if q.parent_entity_ids:
        stmt = stmt.where(a.parent_entity_id.in_(list(q.parent_entity_ids)))
    stmt = stmt.where(*created_between(a.created_at, q.start_time, q.end_time))
    stmt = apply_sort(stmt, sort, order, COLUMNS)
    ascending = (order or "desc").lower() == "asc"
    stmt = stmt.order_by(a.id.asc() if ascending else a.id.desc())
    return page(session, stmt, limit, offset)


# ---- firing: enabled settings, their subjects, their states ------------------------------


def enabled_settings(
    session: Session, setting_ids: Sequence[str] | None = None
) -> list[AlertSetting]:
    """Every published, enabled setting of every environment (or those of ``setting_ids``)."""
    stmt = select(AlertSetting).where(
        AlertSetting.status == "published", AlertSetting.enabled.is_(True)
    )
    if setting_ids is not None:
        if not setting_ids:
            return []
        stmt = stmt.where(AlertSetting.id.in_(list(setting_ids)))
    return list(session.scalars(stmt.order_by(AlertSetting.id)).all())


def live_subscriptions_of(
    session: Session,
    environment_id: str,
    *,
    plan_id: str | None = None,
    subscription_id: str | None = None,
) -> list[Subscription]:
    """The live subscriptions on ``plan_id`` (or the one ``subscription_id``, if live)."""
    stmt = select(Subscription).where(
        Subscription.environment_id == environment_id,
        Subscription.subscription_status.in_(LIVE_STATUSES),
        Subscription.status == "published",
    )
    if plan_id is not None:
        stmt = stmt.where(Subscription.plan_id == plan_id)
    if subscription_id is not None:
        stmt = stmt.where(Subscription.id == subscription_id)
    return list(session.scalars(stmt.order_by(Subscription.id)).all())


def external_ids(session: Session, customer_ids: Sequence[str]) -> dict[str, str]:
    """Customer id → external id, in one query."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.external_id).where(Customer.id.in_(list(customer_ids)))
    ).all()
    return {row[0]: str(row[1]) for row in rows}


def state_of(
    session: Session, setting_id: str, subject_id: str, period_start: datetime
) -> AlertState | None:
    return session.scalars(
        select(AlertState).where(
            AlertState.setting_id == setting_id,
            AlertState.subject_id == subject_id,
            AlertState.period_start == period_start,
        )
    ).first()


def move_state(session: Session, row: AlertState, old: str, new: str, value: Decimal) -> bool:
    """Compare-and-set: ``row`` from ``old`` to ``new``; False when another run moved it
    first (then this run sends nothing)."""
    done = session.execute(
        update(AlertState)
        .where(AlertState.id == row.id, AlertState.state == old)
        .values(state=new, value=value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def states_not_ok(
    session: Session, environment_id: str, limit: int
) -> list[tuple[AlertState, AlertSetting]]:
    """The environment's states other than ``ok`` of its published, enabled settings, with
    their settings, the most recently changed first (at most ``limit``)."""
    rows = session.execute(
        select(AlertState, AlertSetting)
        .join(AlertSetting, AlertSetting.id == AlertState.setting_id)
        .where(
            AlertState.environment_id == environment_id,
            AlertSetting.environment_id == environment_id,
            AlertState.state != "ok",
            AlertSetting.status == "published",
            AlertSetting.enabled.is_(True),
        )
        .order_by(AlertState.updated_at.desc(), AlertState.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


LOG_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": AlertLog.id,
    "created_at": AlertLog.created_at,
    "alert_status": AlertLog.alert_status,
    "alert_type": AlertLog.alert_type,
    "entity_id": AlertLog.entity_id,
    "entity_type": AlertLog.entity_type,
}


@dataclass(frozen=True)
class LogQuery:
    alert_status: str | None = None
    alert_type: str | None = None
    customer_id: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


def search_log(
    session: Session,
    environment_id: str,
    q: LogQuery,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None,
    order: str | None,
) -> tuple[list[AlertLog], int]:
    log = AlertLog
    stmt = select(log).where(log.environment_id == environment_id)
    for column, value in (
        (log.alert_status, q.alert_status),
        (log.alert_type, q.alert_type),
        (log.customer_id, q.customer_id),
        (log.entity_id, q.entity_id),
        (log.entity_type, q.entity_type),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.where(*created_between(log.created_at, q.start_time, q.end_time))
    stmt = apply_sort(stmt, sort, order, LOG_COLUMNS)
    ascending = (order or "desc").lower() == "asc"
    stmt = stmt.order_by(log.id.asc() if ascending else log.id.desc())
    return page(session, stmt, limit, offset)
