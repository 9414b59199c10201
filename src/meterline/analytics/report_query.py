"""A report question, checked against its report's catalog entry, and the table it answers.

``check`` turns what a client sent (``ReportInput``) into a ``ReportQuery`` or raises an
``InvalidRequest`` naming the field; ``table`` turns summed values into the answer's columns
and rows. Neither does any I/O.

* **Range**: ``YYYY-MM-DD..YYYY-MM-DD`` (UTC days, the end excluded) or ``last_N_days`` (the
  N UTC days up to and including today), at most the report's ``max_range_days``.
* **Shape**: one of the report's shapes. ``timeseries`` buckets by ``grain`` (``day`` by
  default; ``week`` starts on Monday, ``month`` on the 1st; a bucket is labelled by its
  start, so the first and last may be partial); the other shapes take no grain.
  ``breakdown`` needs at least one dimension, ``scalar`` takes none. Every answer is grouped
  by ``currency`` too, since amounts in two currencies never add up.
* **Filters**: ``eq`` (one value) or ``in`` (up to 100) on one of the report's dimensions,
  each field at most once; the request's ``currency`` is one more ``eq`` on currency.
* **Sort**: on the answer's columns (``period``, the dimensions, the report's key for the
  value), ``asc`` or ``desc``; by default a time series runs by period, a breakdown by value
  (largest first). **Limit**: 1 to 1000 rows, 1000 by default, taken after sorting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from meterline.analytics.report_catalog import (
    GRAINS,
    MAX_FILTER_VALUES,
    MAX_ROWS,
    SHAPES,
    ReportSpec,
)
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.money import decimal_text, is_currency

OPS = ("eq", "in")
DIRECTIONS = ("asc", "desc")
PERIOD = "period"
_LAST_DAYS = re.compile(r"last_(\d{1,4})_days")
_EARLIEST, _LATEST = date(1970, 1, 1), date(2999, 12, 31)


def _same(name: str) -> str:
    return name


@dataclass(frozen=True)
class FilterInput:
    field: str | None
    op: str | None
    value: Sequence[str] | None


@dataclass(frozen=True)
class SortInput:
    field: str | None
    direction: str | None  # the wire's ``dir``


@dataclass(frozen=True)
class ReportInput:
    """What a client asked, unchecked. ``where`` names a field as the client sent it
    (``definition.time.range`` in a view): every refusal names the field by it."""

    span: str  # the wire's ``range``
    shape: str
    grain: str | None = None
    currency: str | None = None
    dimensions: Sequence[str] = ()
    filters: Sequence[FilterInput] = ()
    sort: Sequence[SortInput] = ()
    limit: int | None = None
    where: Callable[[str], str] = _same


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool


@dataclass(frozen=True)
class ReportQuery:
    spec: ReportSpec
    first: date  # the first UTC day
    end: date  # the day after the last
    shape: str
    grain: str | None
    dimensions: tuple[str, ...]  # ``currency`` first, then the ones asked for
    filters: Mapping[str, frozenset[str]]
    sort: tuple[Sort, ...]
    limit: int


def parse_range(text: str, today: date, max_days: int, name: str) -> tuple[date, date]:
    """(first day, day after the last) of a report range."""
    text = text.strip()
    found = _LAST_DAYS.fullmatch(text)
    if found:
        days = int(found.group(1))
        if not 1 <= days <= max_days:
            raise InvalidRequest(f"{name} covers 1 to {max_days} days", field=name)
        return today - timedelta(days=days - 1), today + timedelta(days=1)
    first_text, dots, end_text = text.partition("..")
    try:
        if not dots:
            raise ValueError(text)
        first, end = date.fromisoformat(first_text), date.fromisoformat(end_text)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be YYYY-MM-DD..YYYY-MM-DD (the end excluded) or last_N_days",
            field=name,
        ) from None
    if not _EARLIEST <= first <= _LATEST or not _EARLIEST <= end <= _LATEST:
        raise InvalidRequest(f"{name} must fall between 1970 and 2999", field=name)
    if end <= first:
        raise InvalidRequest(f"{name} must end after it starts", field=name)
    if (end - first).days > max_days:
        raise InvalidRequest(f"{name} spans more than {max_days} days", field=name)
    return first, end


def _choice(value: str | None, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"{name} must be one of {', '.join(allowed) or '(none)'}",
            field=name,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return str(value)


def _currency(code: str, name: str) -> str:
    if not is_currency(code):
        raise InvalidRequest(f"{name} must be an ISO 4217 currency code", field=name)
    return code.lower()


def _filters(spec: ReportSpec, q: ReportInput) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for i, given in enumerate(q.filters):
        at = q.where(f"filters[{i}]")
        name = _choice(given.field, spec.filters, f"{at}.field")
        if name in out:
            raise InvalidRequest(f"{at}.field names {name} twice", field=f"{at}.field")
        op = _choice(given.op or "in", OPS, f"{at}.op")
        values = list(given.value or ())
        if not values or len(values) > MAX_FILTER_VALUES or (op == "eq" and len(values) > 1):
            most = 1 if op == "eq" else MAX_FILTER_VALUES
            raise InvalidRequest(f"{at}.value holds 1 to {most} values", field=f"{at}.value")
        if name == "currency":
            values = [_currency(v, f"{at}.value") for v in values]
        out[name] = frozenset(values)
    if q.currency:
        if "currency" not in spec.filters:
            raise InvalidRequest("this report takes no currency", field=q.where("currency"))
        wanted = frozenset({_currency(q.currency, q.where("currency"))})
        out["currency"] = out.get("currency", wanted) & wanted
    return out


def _dimensions(spec: ReportSpec, q: ReportInput, shape: str) -> tuple[str, ...]:
    name = q.where("dimensions")
    asked: list[str] = []
    for i, dimension in enumerate(q.dimensions):
        _choice(dimension, spec.dimensions, f"{name}[{i}]")
        if dimension in asked:
            raise InvalidRequest(f"{name} names {dimension} twice", field=name)
        asked.append(dimension)
    if shape == "scalar" and asked:
        raise InvalidRequest("a scalar takes no dimensions", field=name)
    if shape == "breakdown" and not asked:
        raise InvalidRequest("a breakdown needs at least one dimension", field=name)
    return ("currency", *(d for d in asked if d != "currency"))


def _sort(q: ReportInput, columns: Sequence[str]) -> tuple[Sort, ...]:
    out = []
    for i, given in enumerate(q.sort):
        at = q.where(f"sort[{i}]")
        name = _choice(given.field, columns, f"{at}.field")
        out.append(Sort(name, _choice(given.direction or "asc", DIRECTIONS, f"{at}.dir") == "desc"))
    return tuple(out)


def check(spec: ReportSpec, q: ReportInput, today: date) -> ReportQuery:
    """The question ``q`` of report ``spec``, checked; ``today`` is the UTC day now."""
    first, end = parse_range(q.span, today, spec.max_range_days, q.where("range"))
    if spec.kind == "snapshot" and not first <= today < end:
        raise InvalidRequest(
            f"{spec.key} is a snapshot of now: the range must include today",
            field=q.where("range"),
        )
    shape = _choice(q.shape, tuple(s for s in SHAPES if s in spec.shapes), q.where("shape"))
    grain = None
    if shape == "timeseries":
        allowed = tuple(g for g in GRAINS if g in spec.grains)
        grain = _choice(q.grain or "day", allowed, q.where("grain"))
    elif q.grain:
        raise InvalidRequest(f"a {shape} takes no grain", field=q.where("grain"))
    dimensions = _dimensions(spec, q, shape)
    limit = MAX_ROWS if q.limit is None else q.limit
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidRequest(f"limit must be 1 to {MAX_ROWS}", field=q.where("limit"))
    columns = ((PERIOD,) if shape == "timeseries" else ()) + dimensions + (spec.key,)
    return ReportQuery(
        spec=spec,
        first=first,
        end=end,
        shape=shape,
        grain=grain,
        dimensions=dimensions,
        filters=_filters(spec, q),
        sort=_sort(q, columns),
        limit=limit,
    )


def bucket(day: date, grain: str | None) -> date:
    """The first day of the ``grain`` bucket that holds ``day``."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


@dataclass(frozen=True)
class Column:
    name: str
    role: str  # dimension or metric
    kind: str  # the wire's ``type``: string, decimal or datetime
    currency: str | None = None


@dataclass(frozen=True)
class Table:
    columns: list[Column]
    rows: list[list[str]]
    first: date
    end: date
    source: str


@dataclass
class Sums:
    """Values summed per group: a group is (period or None, *dimension values)."""

    values: dict[tuple[date | None, tuple[str, ...]], Decimal] = field(default_factory=dict)

    def add(self, period: date | None, group: tuple[str, ...], value: Decimal) -> None:
        key = (period, group)
        self.values[key] = self.values.get(key, Decimal(0)) + value


def table(q: ReportQuery, sums: Sums, source: str) -> Table:
    """The answer of ``q``: its columns and its rows, sorted and limited."""
    timeseries = q.shape == "timeseries"
    currencies = q.filters.get("currency")
    single = next(iter(currencies)) if currencies is not None and len(currencies) == 1 else None
    columns = [Column(PERIOD, "dimension", "datetime")] if timeseries else []
    columns += [Column(d, "dimension", "string") for d in q.dimensions]
    columns.append(Column(q.spec.key, "metric", "decimal", single))
    names = [c.name for c in columns]
    rows: list[tuple[Any, ...]] = [
        ((period,) if timeseries else ()) + group + (value,)
        for (period, group), value in sums.values.items()
    ]
    rows.sort(key=lambda r: tuple(str(v) for v in r[:-1]))
    default = [Sort(q.spec.key, True)] if q.shape == "breakdown" else []
    # Stable sorts, the last key first: the first sort key decides, the next ones break ties.
    for order in reversed(list(q.sort) or default):
        rows.sort(key=itemgetter(names.index(order.field)), reverse=order.descending)
    return Table(
        columns=columns,
        rows=[[_text(v) for v in row] for row in rows[: q.limit]],
        first=q.first,
        end=q.end,
        source=source,
    )


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    return str(value)
