"""The row reads every repository shares, and the row a service needs or ``NotFound``.

Each domain's repository names its own reads (``plan``, ``by_slug``, …) over these, so that
"the row of this environment" and "rows by id" are one query shape everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from meterline.kernel.errors import NotFound


class Scoped(Protocol):
    """A mapped row of one environment, with a string id."""

    id: Any
    environment_id: Any


class Published(Scoped, Protocol):
    """A row with a ``status`` (``published`` or ``archived``)."""

    status: Any


_Row = TypeVar("_Row", bound=Scoped)
_Pub = TypeVar("_Pub", bound=Published)
_Found = TypeVar("_Found")


def in_environment(
    session: Session, model: type[_Row], environment_id: str, *where: ColumnElement[bool]
) -> _Row | None:
    """The first ``model`` row of the environment matching every ``where``."""
    return session.scalars(
        select(model).where(model.environment_id == environment_id, *where)
    ).first()


def published_in_environment(
    session: Session, model: type[_Pub], environment_id: str, *where: ColumnElement[bool]
) -> _Pub | None:
    """The published ``model`` row of the environment matching every ``where`` (a lookup by
    a key that is unique among published rows)."""
    return in_environment(session, model, environment_id, *where, model.status == "published")


def by_ids(session: Session, model: type[_Row], ids: Sequence[str]) -> dict[str, _Row]:
    """The ``model`` rows with these ids (any environment), by id; no query for no ids."""
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids))).all()}


def of_environment(model: type[_Row], environment_id: str) -> Select[Any]:
    """Every ``model`` row of the environment."""
    return select(model).where(model.environment_id == environment_id)


def set_given(row: object, **values: Any) -> None:
    """Set each of ``row``'s attributes whose value is given (not ``None``): an update's
    "leave it as it is" for the fields not sent."""
    for name, value in values.items():
        if value is not None:
            setattr(row, name, value)


def existing(row: _Found | None, resource: str, identifier: str) -> _Found:
    """``row``, or ``NotFound(resource, identifier)`` when there is none."""
    if row is None:
        raise NotFound(resource, identifier)
    return row


__all__ = [
    "Published",
    "Scoped",
    "by_ids",
    "existing",
    "in_environment",
    "of_environment",
    "published_in_environment",
    "set_given",
]


def published_of_environment(
    session: Session, model: type[_Pub], environment_id: str, limit: int
) -> list[_Pub]:
    """Up to ``limit`` published ``model`` rows of the environment, oldest first."""
    return list(
        session.scalars(
            select(model)
            .where(model.environment_id == environment_id, model.status == "published")
            .order_by(model.id)
            .limit(limit)
        )
    )
