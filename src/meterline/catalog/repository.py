"""Queries of the catalog domain (features and meters)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.catalog.models import Feature, Meter
from meterline.db.rows import by_ids, in_environment, published_in_environment
from meterline.db.search import Search, contains, finish, searched

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
    return in_environment(session, Meter, environment_id, Meter.id == meter_id)


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
    return in_environment(session, Feature, environment_id, Feature.id == feature_id)


def feature_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Feature | None:
    return published_in_environment(
        session, Feature, environment_id, Feature.lookup_key == lookup_key
    )


def features_of_meters(session: Session, meter_ids: Sequence[str]) -> dict[str, Meter]:
    return by_ids(session, Meter, meter_ids)


@dataclass(frozen=True)
class FeatureQuery(Search):
    """What a feature search selects; every field set narrows the result."""

    feature_ids: Sequence[str] | None = None
    meter_ids: Sequence[str] | None = None
    lookup_key: str | None = None
    lookup_keys: Sequence[str] | None = None
    name_contains: str | None = None
    feature_type: str | None = None


def search_features(
    session: Session, environment_id: str, q: FeatureQuery, limit: int, offset: int
) -> tuple[list[Feature], int]:
    stmt = searched(Feature, environment_id, q)
    if q.feature_ids:
        stmt = stmt.where(Feature.id.in_(q.feature_ids))
    if q.meter_ids:
        stmt = stmt.where(Feature.meter_id.in_(q.meter_ids))
    if q.lookup_key:
        stmt = stmt.where(Feature.lookup_key == q.lookup_key)
    if q.lookup_keys:
        stmt = stmt.where(Feature.lookup_key.in_(q.lookup_keys))
    if q.name_contains:
        stmt = stmt.where(contains(Feature.name, q.name_contains))
    if q.feature_type:
        stmt = stmt.where(Feature.type == q.feature_type)
    return finish(session, stmt, Feature, q, FEATURE_SEARCHABLE, limit, offset)
