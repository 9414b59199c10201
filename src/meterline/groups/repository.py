"""The SQL of groups and of their members (prices and features with the group's id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meterline.catalog.models import Feature
from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, contains, finish, searched
from meterline.groups.models import Group
from meterline.pricing.models import Price


def group(session: Session, environment_id: str, group_id: str) -> Group | None:
    return in_environment(session, Group, environment_id, Group.id == group_id)


def by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Group | None:
    return published_in_environment(session, Group, environment_id, Group.lookup_key == lookup_key)


@dataclass(frozen=True, kw_only=True)
class GroupQuery(Search):
    ids: Sequence[str] | None = None
    entity_type: str | None = None
    lookup_key: str | None = None
    name: str | None = None


COLUMNS = {
    "id": Group.id,
    "name": Group.name,
    "lookup_key": Group.lookup_key,
    "entity_type": Group.entity_type,
    "created_at": Group.created_at,
    "updated_at": Group.updated_at,
}


def search(
    session: Session, environment_id: str, q: GroupQuery, limit: int, offset: int
) -> tuple[list[Group], int]:
    stmt = searched(Group, environment_id, q)
    if q.ids:
        stmt = stmt.where(Group.id.in_(q.ids))
    if q.entity_type:
        stmt = stmt.where(Group.entity_type == q.entity_type)
    if q.lookup_key:
        stmt = stmt.where(Group.lookup_key == q.lookup_key)
    if q.name:
        stmt = stmt.where(contains(Group.name, q.name))
    return finish(session, stmt, Group, q, COLUMNS, limit, offset)


def _member_model(entity_type: str) -> type[Price] | type[Feature]:
    return Price if entity_type == "price" else Feature


def members(session: Session, groups: Sequence[Group]) -> dict[str, list[str]]:
    """The ids of each group's live members, oldest first."""
    out: dict[str, list[str]] = {g.id: [] for g in groups}
    for entity_type in sorted({g.entity_type for g in groups}):
        ids = [g.id for g in groups if g.entity_type == entity_type]
        model = _member_model(entity_type)
        rows = session.execute(
            select(model.group_id, model.id)
            .where(model.group_id.in_(ids), model.status == "published")
            .order_by(model.created_at, model.id)
        )
        for group_id, member_id in rows:
            out[str(group_id)].append(member_id)
    return out


def release_members(session: Session, found: Group) -> None:
    """Its members belong to no group any more."""
    model = _member_model(found.entity_type)
    session.execute(
        update(model)
        .where(model.environment_id == found.environment_id, model.group_id == found.id)
        .values(group_id=None)
    )
