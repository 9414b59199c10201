"""Queries of the catalog domain (features and meters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from meterline.catalog.models import Feature, Meter

FEATURE_SEARCHABLE = {
    "id": Feature.id,
    "name": Feature.name,
    "lookup_key": Feature.lookup_key,
    "type": Feature.type,
    "meter_id": Feature.meter_id,
    "status": Feature.status,
    "created_at": Feature.created_at,
    "updated_at": Feature.updated_at,
}


def meter(session: Session, environment_id: str, meter_id: str) -> Meter | None:
    return session.scalars(
        select(Meter).where(Meter.environment_id == environment_id, Meter.id == meter_id)
    ).first()


def meters(
    session: Session, environment_id: str, limit: int, offset: int
) -> tuple[Sequence[Meter], int]:
    stmt = select(Meter).where(Meter.environment_id == environment_id, Meter.status == "published")
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Meter.created_at.desc(), Meter.id).limit(limit).offset(offset)
    ).all()
    return rows, int(total)


def feature(session: Session, environment_id: str, feature_id: str) -> Feature | None:
    return session.scalars(
        select(Feature).where(Feature.environment_id == environment_id, Feature.id == feature_id)
    ).first()


def feature_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Feature | None:
    return session.scalars(
        select(Feature).where(
            Feature.environment_id == environment_id,
            Feature.lookup_key == lookup_key,
            Feature.status == "published",
        )
    ).first()


def features_of_meters(session: Session, meter_ids: Sequence[str]) -> dict[str, Meter]:
    if not meter_ids:
        return {}
    return {m.id: m for m in session.scalars(select(Meter).where(Meter.id.in_(meter_ids))).all()}


def feature_query(environment_id: str) -> Select[Any]:
    return select(Feature).where(Feature.environment_id == environment_id)
