"""The SQL event store's reads: raw events, and the hourly and daily aggregates.

``SqlEventStore`` (``stores/sql.py``) is these reads plus its writes. Which columns of an
aggregate row are read, and how PostgreSQL folds many rows, comes from the fold parts
(``metering/folds.py``) the meter's aggregation reads: nothing else is fetched or parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection

from meterline.db.dialect import dialect_named
from meterline.kernel.money import in_money_context
from meterline.metering.folds import ALL_PARTS, PARTS, Fold, Part


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    environment_id: str
    event_id: str
    event_name: str
    external_customer_id: str
    customer_id: str | None
    timestamp: int
    ingested_at: int
    source: str | None
    properties: dict[str, Any]


@dataclass(frozen=True)
class EventRange:
    """Which raw events of an environment a read takes (None: any)."""

    event_name: str | None = None
    customer: str | None = None  # the external customer id
    start: int | None = None  # µs, inclusive
    end: int | None = None  # µs, exclusive


@dataclass(frozen=True)
class EventPage(EventRange):
    """Which raw events a page shows, in which order (``order_by``: timestamp, event_name
    or ingested_at) and which slice of them."""

    event_id: str | None = None
    source: str | None = None
    order_by: str = "timestamp"
    descending: bool = True
    limit: int = 50
    offset: int = 0


_properties_decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


def _loads(text: str | None) -> dict[str, Any]:
    """Stored properties, numbers with a fraction read back as exact decimals."""
    if not text:
        return {}
    return _properties_decoder.decode(text)


def _parts(needs: frozenset[str] | None) -> list[tuple[Part, int, int]]:
    """The needed parts in ``PARTS`` order, each with its columns' slice of a row."""
    found = []
    offset = 0
    for name, part in PARTS.items():
        if name in (needs or ALL_PARTS):
            found.append((part, offset, offset + len(part.columns)))
            offset += len(part.columns)
    return found


# How PostgreSQL folds many rows of a part: an aggregate, or the one row of an extreme instant.
_AGGREGATES = {"sum": "SUM", "min": "MIN", "max": "MAX"}
_PICKS = {"last": "DESC", "first": "ASC"}


def _number(value: Any) -> Decimal:
    return value if type(value) is Decimal else Decimal(value)


class SqlReads:
    """The reads of the SQL event store (SQLite or PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        self.sql = dialect_named(dialect)
        self.dialect = dialect
        self.is_sqlite = self.sql.is_sqlite
        self.p = self.sql.mark

    def _rollup_where(
        self,
        table: str,
        environment_id: str,
        meter_id: str,
        customer: str | None,
        start: int,
        end: int,
    ) -> tuple[str, tuple[Any, ...]]:
        p = self.p
        # With a customer, the primary key (meter, customer, bucket) is the index to use;
        # SQLite's planner prefers (environment, meter, bucket) and then reads every
        # customer's hours. The unary + keeps the environment check but takes it out of
        # index selection.
        env_term = (
            "+environment_id" if self.is_sqlite and customer is not None else "environment_id"
        )
        where = (
            f" FROM {_rollup(table)} WHERE {env_term} = {p} AND meter_id = {p}"
            f" AND bucket_start >= {p} AND bucket_start < {p}"
        )
        params: tuple[Any, ...] = (environment_id, meter_id, start, end)
        if customer is not None:
            where += f" AND external_customer_id = {p}"
            params += (customer,)
        return where, params

    def hourly(
        self,
        conn: Connection,
        environment_id: str,
        meter_id: str,
        customer: str | None,
        start: int,
        end: int,
        needs: frozenset[str] | None = None,
        table: str = "usage_hourly",
    ) -> Iterator[tuple[str, int, Fold]]:
        """Hourly aggregates with ``start <= bucket_start < end`` (both hour-aligned).

        ``needs`` names the parts of each fold to read (``folds.PARTS``; the count always):
        the aggregation's ``parts``. Only their columns are fetched and turned into
        ``Decimal`` (most of the cost of a month of hourly rows).
        """
        parts = _parts(needs)
        columns = [column for part, _a, _b in parts for column in part.columns]
        where, params = self._rollup_where(table, environment_id, meter_id, customer, start, end)
        sql = (
            "SELECT external_customer_id, bucket_start, event_count"
            + "".join(", " + column for column in columns)
            + where
        )
        for row in conn.exec_driver_sql(sql, params):
            fold = Fold(count=row[2])
            values = row[3:]
            for part, first, last in parts:
                part.load(fold, values[first:last], _number)
            yield row[0], row[1], fold

    @in_money_context
    def hourly_total(
        self,
        conn: Connection,
        meter_id: str,
        environment_id: str,
        customer: str | None,
        start: int,
        end: int,
        needs: frozenset[str] | None = None,
        table: str = "usage_hourly",
    ) -> Fold:
        """The hourly aggregates of ``[start, end)`` folded into one (the hot check read).

        PostgreSQL folds in SQL (exact NUMERIC); SQLite keeps decimals as text, so the rows
        are folded here, one pass per part over the fetched columns.
        """
        parts = _parts(needs)
        where, params = self._rollup_where(table, environment_id, meter_id, customer, start, end)
        if self.is_sqlite:
            columns = [column for part, _a, _b in parts for column in part.columns]
            rows = conn.exec_driver_sql(
                "SELECT event_count" + "".join(", " + c for c in columns) + where, params
            ).all()
            fold = Fold(count=sum(row[0] for row in rows))
            if rows:
                for part, first, _last in parts:
                    part.fold_rows(fold, rows, first + 1, _number)
            return fold
        aggregated = [part for part, _a, _b in parts if part.combine in _AGGREGATES]
        selects = [f"{_AGGREGATES[part.combine]}({part.columns[0]})" for part in aggregated]
        row = conn.exec_driver_sql(
            "SELECT COALESCE(SUM(event_count), 0)" + "".join(", " + s for s in selects) + where,
            params,
        ).one()
        fold = Fold(count=int(row[0]))
        for index, part in enumerate(aggregated, start=1):
            part.load(fold, (row[index],), _number)
        if not fold.count:
            return fold
        for part, _a, _b in parts:
            if part.combine not in _PICKS:
                continue
            # The row holding the part's extreme instant, and the next: rows of several
            # customers may share the instant (the fold is then tied).
            instant = part.columns[0]
            picked = conn.exec_driver_sql(
                f"SELECT {', '.join(part.columns)}{where} AND {instant} IS NOT NULL"
                f" ORDER BY {instant} {_PICKS[part.combine]} LIMIT 2",
                params,
            ).all()
            if picked:
                part.load(fold, picked[0], _number)
                if len(picked) == 2 and picked[1][0] == picked[0][0]:
                    fold.tied = fold.tied or _number(picked[1][1]) != _number(picked[0][1])
        return fold

    def _events_where(self, environment_id: str, wanted: EventRange) -> tuple[str, list[Any]]:
        p = self.p
        where = f" WHERE environment_id = {p}"
        params: list[Any] = [environment_id]
        for term, value in (
            (f"external_customer_id = {p}", wanted.customer),
            (f"event_name = {p}", wanted.event_name),
            (f"timestamp >= {p}", wanted.start),
            (f"timestamp < {p}", wanted.end),
        ):
            if value is not None:
                where += f" AND {term}"
                params.append(value)
        return where, params

    def scan(
        self, conn: Connection, environment_id: str, wanted: EventRange
    ) -> Iterator[StoredEvent]:
        """Raw events in ingest order within ``[start, end)``."""
        where, params = self._events_where(environment_id, wanted)
        sql = _SELECT_EVENTS + where + " ORDER BY seq"
        for row in conn.exec_driver_sql(sql, tuple(params)):
            yield _stored(row)

    def page(
        self, conn: Connection, environment_id: str, wanted: EventPage = EventPage()
    ) -> tuple[list[StoredEvent], int]:
        """One page of raw events and the total that match."""
        p = self.p
        where, params = self._events_where(environment_id, wanted)
        for column, value in (("event_id", wanted.event_id), ("source", wanted.source)):
            if value is not None:
                where += f" AND {column} = {p}"
                params.append(value)
        total = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM events" + where, tuple(params)
        ).scalar_one()
        column = {"timestamp": "timestamp", "event_name": "event_name", "ingested_at": "seq"}.get(
            wanted.order_by, "timestamp"
        )
        direction = "DESC" if wanted.descending else "ASC"
        rows = conn.exec_driver_sql(
            _SELECT_EVENTS
            + where
            + f" ORDER BY {column} {direction}, seq {direction} LIMIT {int(wanted.limit)} OFFSET {int(wanted.offset)}",
            tuple(params),
        ).all()
        return [_stored(row) for row in rows], int(total)


_SELECT_EVENTS = (
    "SELECT seq, environment_id, event_id, event_name, external_customer_id, customer_id,"
    " timestamp, ingested_at, source, properties FROM events"
)


def _rollup(table: str) -> str:
    if table not in ("usage_hourly", "usage_daily"):
        raise ValueError(f"no rollup table {table}")
    return table


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        seq=row[0],
        environment_id=row[1],
        event_id=row[2],
        event_name=row[3],
        external_customer_id=row[4],
        customer_id=row[5],
        timestamp=row[6],
        ingested_at=row[7],
        source=row[8],
        properties=_loads(row[9]),
    )
