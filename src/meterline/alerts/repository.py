"""Every query of the alert settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.alerts.models import AlertSetting
from meterline.db.search import apply_sort, created_between, page


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
