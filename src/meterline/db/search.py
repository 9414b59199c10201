"""The generic ``filters``/``sort`` of Flexprice search bodies, applied to a SQL statement.

Only fields a resource allows are filterable; anything else is a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, func, not_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.rows import Published
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import InstantError, parse_instant

OPERATORS = (
    "eq",
    "contains",
    "not_contains",
    "gt",
    "lt",
    "gte",
    "lte",
    "in",
    "not_in",
    "before",
    "after",
)


LIKE_ESCAPE = "\\"


def contains(column: InstrumentedAttribute[Any], text: Any) -> ColumnElement[bool]:
    """Case-insensitive "``column`` contains ``text``" where ``text`` is literal: ``%``,
    ``_`` and the escape character match themselves, on SQLite and PostgreSQL alike."""
    literal = (
        str(text)
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return column.ilike(f"%{literal}%", escape=LIKE_ESCAPE)


def _value(raw: Mapping[str, Any] | None, field: str) -> Any:
    if not raw:
        raise InvalidRequest(f"filter on {field} needs a value", field="filters")
    for key in ("string", "number", "boolean", "array"):
        if key in raw and raw[key] is not None:
            return raw[key]
    if raw.get("date"):
        try:
            return parse_instant(str(raw["date"]))
        except InstantError as exc:
            raise InvalidRequest(f"filter on {field}: the date {exc}", field="filters") from exc
    raise InvalidRequest(f"filter on {field} needs a value", field="filters")


def apply_filters(
    stmt: Select[Any],
    filters: Sequence[Any] | None,
    columns: Mapping[str, InstrumentedAttribute[Any]],
) -> Select[Any]:
    """Each filter is an object with ``field``, ``operator`` and ``value``."""
    for item in filters or ():
        field = item.field
        column = columns.get(field)
        if column is None:
            raise InvalidRequest(
                f"cannot filter on {field}",
                field="filters",
                details={"allowed_values": sorted(columns), "provided_value": field},
            )
        operator = (item.operator or "eq").lower()
        value = _value(item.value, field)
        if operator == "eq":
            stmt = stmt.where(column == value)
        elif operator == "contains":
            stmt = stmt.where(contains(column, value))
        elif operator == "not_contains":
            stmt = stmt.where(not_(contains(column, value)))
        elif operator in ("gt", "after"):
            stmt = stmt.where(column > value)
        elif operator in ("lt", "before"):
            stmt = stmt.where(column < value)
        elif operator == "gte":
            stmt = stmt.where(column >= value)
        elif operator == "lte":
            stmt = stmt.where(column <= value)
        elif operator in ("in", "not_in"):
            values = value if isinstance(value, list) else [value]
            clause = column.in_(values)
            stmt = stmt.where(clause if operator == "in" else not_(clause))
        else:
            raise InvalidRequest(
                f"unknown filter operator {operator}",
                field="filters",
                details={"allowed_values": list(OPERATORS), "provided_value": operator},
            )
    return stmt


def apply_sort(
    stmt: Select[Any],
    sort: Sequence[Any] | str | None,
    order: str | None,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    default: str = "created_at",
) -> Select[Any]:
    pairs: list[tuple[str, str]] = []
    if isinstance(sort, str) and sort:
        pairs.append((sort, order or "desc"))
    elif sort:
        for item in sort:
            if isinstance(item, str):
                pairs.append((item, order or "desc"))
            else:
                pairs.append((item.field, item.direction or "desc"))
    if not pairs:
        pairs.append((default, order or "desc"))
    clauses = []
    for field, direction in pairs:
        column = columns.get(field)
        if column is None:
            raise InvalidRequest(f"cannot sort by {field}", field="sort")
        clauses.append(column.asc() if direction.lower() == "asc" else column.desc())
    return stmt.order_by(*clauses)


def created_between(
    column: InstrumentedAttribute[Any], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """The ``start_time``/``end_time`` of a search: ``start <= column < end``, either open."""
    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(column >= start)
    if end is not None:
        clauses.append(column < end)
    return clauses


def metadata_has(
    column: InstrumentedAttribute[Any], metadata: Mapping[str, str] | None
) -> list[ColumnElement[bool]]:
    """Rows whose JSON ``metadata`` holds every given key with exactly the given text (the
    same JSON path expression on SQLite and PostgreSQL; keys travel as bound parameters)."""
    return [column[key].as_string() == str(value) for key, value in (metadata or {}).items()]


def page(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a statement's rows and the total count of its rows."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.scalars(stmt.limit(limit).offset(offset)).all()), int(total)


class Searchable(Published, Protocol):
    """A row a search body can select: of an environment, with a status and a creation time."""

    created_at: Any


_Row = TypeVar("_Row", bound=Searchable)


@dataclass(frozen=True, kw_only=True)
class Search:
    """What every search body may state besides its resource's own fields: the status
    (``published`` unless given), the creation range, generic ``filters`` and the sort."""

    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | str | None = None
    order: str | None = None


def searched(model: type[_Row], environment_id: str, q: Search) -> Select[Any]:
    """The environment's ``model`` rows with the searched status: where a search starts."""
    return select(model).where(
        model.environment_id == environment_id, model.status == (q.status or "published")
    )


def finish(
    session: Session,
    stmt: Select[Any],
    model: type[_Row],
    q: Search,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    limit: int,
    offset: int,
) -> tuple[list[_Row], int]:
    """The end every search shares: the creation range, the generic filters and sort over
    ``columns`` (ties broken by id), then one page and the total."""
    stmt = stmt.where(*created_between(model.created_at, q.start_time, q.end_time))
    stmt = apply_filters(stmt, q.filters, columns)
    stmt = apply_sort(stmt, q.sort, q.order, columns).order_by(model.id)
    return page(session, stmt, limit, offset)


__all__ = [
    "Search",
    "Searchable",
    "apply_filters",
    "apply_sort",
    "contains",
    "created_between",
    "finish",
    "metadata_has",
    "page",
    "searched",
]
