"""The SQL of cost sheets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.costs.models import Costsheet
from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, contains, finish, searched


def costsheet(session: Session, environment_id: str, costsheet_id: str) -> Costsheet | None:
    return in_environment(session, Costsheet, environment_id, Costsheet.id == costsheet_id)


def by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Costsheet | None:
    return published_in_environment(
        session, Costsheet, environment_id, Costsheet.lookup_key == lookup_key
    )


def active(session: Session, environment_id: str) -> Costsheet | None:
    """The environment's newest published cost sheet."""
    return session.scalars(
        select(Costsheet)
        .where(Costsheet.environment_id == environment_id, Costsheet.status == "published")
        .order_by(Costsheet.created_at.desc(), Costsheet.id.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True, kw_only=True)
class CostsheetQuery(Search):
    ids: Sequence[str] | None = None
    lookup_key: str | None = None
    name: str | None = None


COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Costsheet.id,
    "name": Costsheet.name,
    "lookup_key": Costsheet.lookup_key,
    "description": Costsheet.description,
    "status": Costsheet.status,
    "created_at": Costsheet.created_at,
    "updated_at": Costsheet.updated_at,
}


def search(
    session: Session, environment_id: str, q: CostsheetQuery, limit: int, offset: int
) -> tuple[list[Costsheet], int]:
    stmt = searched(Costsheet, environment_id, q)
    if q.ids:
        stmt = stmt.where(Costsheet.id.in_(list(q.ids)))
    if q.lookup_key:
        stmt = stmt.where(Costsheet.lookup_key == q.lookup_key)
    if q.name:
        stmt = stmt.where(contains(Costsheet.name, q.name))
    return finish(session, stmt, Costsheet, q, COLUMNS, limit, offset)
