"""The SQL event store: deduplicated inserts, hourly aggregates, raw scans.

One store for SQLite and PostgreSQL (what differs is ``db/dialect.py``'s): the writes are
here, the reads in ``stores/sql_reads.py``. The hot insert path speaks the driver directly
(``exec_driver_sql``), because building ORM statements per row costs more than the insert.

Dedup: ``(environment_id, event_id)`` is a unique index. On SQLite the whole transaction
holds the write lock (``BEGIN IMMEDIATE``), so the ids already stored are read first and
only new rows are inserted. On PostgreSQL concurrent writers in other processes are
possible, so the insert is ``ON CONFLICT DO NOTHING RETURNING`` and only the rows it
returns are new; rows go in the index's key order, so that two batches sharing ids lock
them in one order (the writer retries the rare deadlock that remains).

Aggregates: every new event is folded into ``usage_hourly`` and ``usage_daily`` (UTC hours
and days) for each meter it matches, in the same transaction as its insert. The batch is
folded in Python into one delta per row key, and each table takes the deltas in one upsert
(``ON CONFLICT DO UPDATE``), so no existing row is read back: on PostgreSQL with exact
NUMERIC arithmetic, keys sorted so that concurrent writers lock rows in one order; on
SQLite, which stores decimals as text, through the exact decimal functions that
``db/engine.py`` registers on every connection. The columns and their merge are the fold
parts' (``metering/folds.py``). A total that would pass the column's bounds stays at its
largest value on both.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection

from meterline.db.base import canonical_decimal
from meterline.kernel.money import saturate
from meterline.metering.aggregations import (
    DAY_US,
    HOUR_US,
    MeterSpec,
    aggregation_of,
    filters_of,
    matches,
)
from meterline.metering.folds import PARTS, Fold
from meterline.metering.ingest import EventRow, first_of_each, now_micros
from meterline.metering.stores.sql_reads import EventRange, SqlReads
from meterline.metering.stores.sql_reads import StoredEvent as StoredEvent

_batch_encoder = msgspec.json.Encoder()


def _json(value: Any) -> str:
    return _batch_encoder.encode(value).decode()


# A rollup row: its key and count, then the columns of the fold parts it writes.
_HEAD = ("meter_id", "external_customer_id", "bucket_start", "environment_id", "event_count")
_HEAD_TYPES = ("varchar", "varchar", "bigint", "varchar", "bigint")
_CONFLICT = " ON CONFLICT (meter_id, external_customer_id, bucket_start) DO UPDATE SET"
# What a batch adds to the rollups: (meter, customer, bucket start) → (environment, fold).
_Deltas = dict[tuple[str, str, int], tuple[str, Fold]]


class _Layout:
    """The upserts of a set of fold parts and how a fold becomes their row values.

    A batch writes only the parts its meters' aggregations read (always the total, a NOT
    NULL column); the others keep what they hold. A meter's aggregation never changes, so
    its rows never miss a part it reads.
    """

    def __init__(self, names: frozenset[str]) -> None:
        parts = [part for name, part in PARTS.items() if name in names | {"total"}]
        columns = _HEAD + tuple(c for part in parts for c in part.columns)
        types = _HEAD_TYPES + tuple(kind for part in parts for kind in part.pg_types)
        self.width = len(columns)
        self.values = attrgetter("count", *(a for part in parts for a in part.attributes))
        each = [part for part in parts for _attribute in part.attributes]
        self.saturated = [len(_HEAD) + i for i, part in enumerate(each) if part.saturates]
        self.decimals = [i for i, kind in enumerate(types) if kind == "numeric"]
        picks = ", ".join(f"value->>{i}" for i in range(len(columns)))
        merges = ["event_count = event_count + excluded.event_count"]
        merges += [m for part in parts for m in part.sqlite_merge]
        self.sqlite = {
            table: f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picks}"
            " FROM json_each(?) WHERE true" + _CONFLICT + " " + ", ".join(merges)
            for table in _ROLLUPS
        }
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        merges = ["event_count = u.event_count + excluded.event_count"]
        merges += [m for part in parts for m in part.postgres_merge]
        self.postgres = {
            table: f"INSERT INTO {table} AS u ({', '.join(columns)})"
            f" SELECT * FROM unnest({arrays})" + _CONFLICT + " " + ", ".join(merges)
            for table in _ROLLUPS
        }

    def row(self, key: tuple[str, str, int], env: str, fold: Fold) -> list[Any]:
        values: list[Any] = [*key, env, *self.values(fold)]
        for index in self.saturated:
            values[index] = saturate(values[index])
        return values


_ROLLUPS = ("usage_hourly", "usage_daily")


@functools.cache
def _layout(names: frozenset[str]) -> _Layout:
    return _Layout(names)


class SqlEventStore(SqlReads):
    """Events and their hourly aggregates in the catalog database (SQLite or PostgreSQL)."""

    # ---- meters ------------------------------------------------------------------------

    def active_meters(self, conn: Connection, environment_ids: Sequence[str]) -> list[MeterSpec]:
        marks = ",".join([self.p] * len(environment_ids))
        rows = conn.exec_driver_sql(
            "SELECT id, environment_id, event_name, aggregation_type, aggregation_field,"
            " aggregation_multiplier, filters, bucket_size, group_by FROM meters"
            f" WHERE status = 'published' AND environment_id IN ({marks})",
            tuple(environment_ids),
        ).all()
        return [meter_spec_of_row(row) for row in rows]

    # ---- writes ------------------------------------------------------------------------

    def insert(self, conn: Connection, rows: Sequence[EventRow]) -> list[bool]:
        """Store the rows not stored before; return, per row, whether it was new.

        The first of several rows with one ``(environment, event_id)`` in ``rows`` wins.
        """
        if not rows:
            return []
        new_flags = [False] * len(rows)
        candidates = first_of_each(rows)
        ingested = now_micros()
        if self.is_sqlite:
            stored = self._existing_ids(conn, [rows[i] for i in candidates])
            fresh = [
                i for i in candidates if (rows[i].environment_id, rows[i].event_id) not in stored
            ]
            if fresh:
                # The whole batch travels as one JSON parameter and SQLite unpacks it with
                # json_each: one statement step instead of one per row. The sqlite3 module
                # releases the GIL around every step, and under load each re-acquisition
                # queues behind the request-parsing thread — per-row steps made the writer
                # ~4x slower in the server than alone.
                conn.exec_driver_sql(
                    "INSERT INTO events (environment_id, event_id, event_name, external_customer_id,"
                    " customer_id, timestamp, ingested_at, source, properties)"
                    " SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5,"
                    " value->>6, value->>7, value->>8 FROM json_each(?)",
                    (_json([_event_params(rows[i], ingested) for i in fresh]),),
                )
        else:
            fresh = self._insert_returning_pg(conn, rows, candidates, ingested)
        for i in fresh:
            new_flags[i] = True
        if fresh:
            environments = sorted({rows[i].environment_id for i in fresh})
            self.lock_meters(conn, environments, exclusive=False)
            meters = self.active_meters(conn, environments)
            if meters:
                self.fold_into_hourly(conn, meters, [rows[i] for i in fresh])
        return new_flags

    def lock_meters(
        self, conn: Connection, environment_ids: Sequence[str], *, exclusive: bool
    ) -> None:
        """Order meter changes against ingestion, so no event misses a new meter's aggregates.

        Ingest batches take a shared lock per environment before reading the meters;
        creating a meter or changing its filters takes it exclusively before rebuilding the
        aggregates. On SQLite every write transaction already holds the database write lock.
        """
        statement = self.sql.advisory_lock_sql(shared=not exclusive)
        if statement is None:
            return
        for env in sorted(environment_ids):
            conn.exec_driver_sql(statement, (f"meters:{env}",))

    def _existing_ids(self, conn: Connection, rows: Sequence[EventRow]) -> set[tuple[str, str]]:
        by_env: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_env[row.environment_id].append(row.event_id)
        found: set[tuple[str, str]] = set()
        for env, ids in by_env.items():
            for (event_id,) in conn.exec_driver_sql(
                "SELECT event_id FROM events WHERE environment_id = ?"
                " AND event_id IN (SELECT value FROM json_each(?))",
                (env, _json(ids)),
            ):
                found.add((env, event_id))
        return found

    def _insert_returning_pg(
        self, conn: Connection, rows: Sequence[EventRow], candidates: list[int], ingested: int
    ) -> list[int]:
        index_of = {(rows[i].environment_id, rows[i].event_id): i for i in candidates}
        # In the unique index's key order: concurrent batches (other processes) that share
        # ids then wait on each other's rows in one order instead of deadlocking.
        ordered = [index_of[key] for key in sorted(index_of)]
        fresh: list[int] = []
        width = 9
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            values = ",".join(["(" + ",".join(["%s"] * width) + ")"] * len(chunk))
            params: list[Any] = []
            for i in chunk:
                params.extend(_event_params(rows[i], ingested))
            result = conn.exec_driver_sql(
                "INSERT INTO events (environment_id, event_id, event_name, external_customer_id,"
                " customer_id, timestamp, ingested_at, source, properties)"
                f" VALUES {values} ON CONFLICT (environment_id, event_id) DO NOTHING"
                " RETURNING environment_id, event_id",
                tuple(params),
            )
            fresh.extend(index_of[(env, eid)] for env, eid in result)
        fresh.sort()
        return fresh

    def fold_into_hourly(
        self, conn: Connection, meters: Sequence[MeterSpec], rows: Sequence[EventRow]
    ) -> None:
        """Fold new events into the hourly aggregates of every meter they match."""
        by_name: dict[tuple[str, str], list[MeterSpec]] = defaultdict(list)
        for meter in meters:
            by_name[(meter.environment_id, meter.event_name)].append(meter)
        # A meter's aggregation never changes, so its rollups keep only the parts that
        # aggregation reads (a SUM meter's rows carry no min, max or latest).
        parts = {meter.id: aggregation_of(meter.aggregation_type).parts for meter in meters}
        values = {meter.id: aggregation_of(meter.aggregation_type).value for meter in meters}
        deltas: _Deltas = {}
        for row in rows:
            for meter in by_name.get((row.environment_id, row.event_name), ()):
                if meter.filters and not matches(row.properties, meter.filters):
                    continue
                key = (meter.id, row.external_customer_id, row.timestamp - row.timestamp % HOUR_US)
                entry = deltas.get(key)
                if entry is None:
                    entry = (row.environment_id, Fold())
                    deltas[key] = entry
                needed = parts[meter.id]
                fold = entry[1]
                if needed:
                    fold.add_parts(values[meter.id](meter, row.properties), row.timestamp, needed)
                else:
                    fold.count += 1
        if not deltas:
            return
        daily: _Deltas = {}
        for (meter_id, customer, hour), (env, fold) in deltas.items():
            key = (meter_id, customer, hour - hour % DAY_US)
            entry = daily.get(key)
            if entry is None:
                entry = (env, Fold())
                daily[key] = entry
            entry[1].merge(fold)
        layout = _layout(frozenset().union(*parts.values()))
        for table, table_deltas in (("usage_hourly", deltas), ("usage_daily", daily)):
            if self.is_sqlite:
                self._merge_rollup_sqlite(conn, layout, table, table_deltas)
            else:
                self._merge_rollup_pg(conn, layout, table, table_deltas)

    def _merge_rollup_sqlite(
        self, conn: Connection, layout: _Layout, table: str, deltas: _Deltas
    ) -> None:
        # One upsert; the decimal arithmetic on the text columns is done by the functions
        # that db/engine.py registers on every SQLite connection (exact, in Python's
        # Decimal), so no existing row has to be read back first.
        rows = []
        for key, (env, fold) in deltas.items():
            values = layout.row(key, env, fold)
            for index in layout.decimals:
                if values[index] is not None:
                    values[index] = canonical_decimal(values[index])
            rows.append(values)
        conn.exec_driver_sql(layout.sqlite[table], (_json(rows),))

    def _merge_rollup_pg(
        self, conn: Connection, layout: _Layout, table: str, deltas: _Deltas
    ) -> None:
        # One statement for the whole batch (arrays unnested), in key order so concurrent
        # writers lock rows in the same order; executemany would be one statement a row.
        columns: list[list[Any]] = [[] for _ in range(layout.width)]
        for key, (env, fold) in sorted(deltas.items()):
            for column, value in zip(columns, layout.row(key, env, fold), strict=True):
                column.append(value)
        conn.exec_driver_sql(layout.postgres[table], tuple(columns))

    def rebuild_hourly(self, conn: Connection, meter: MeterSpec) -> None:
        """Recompute a meter's hourly aggregates from its raw events (new meter, new filters)."""
        self.lock_meters(conn, [meter.environment_id], exclusive=True)
        for table in ("usage_hourly", "usage_daily"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE meter_id = {self.p}", (meter.id,))
        batch: list[EventRow] = []
        for event in self.scan(conn, meter.environment_id, EventRange(meter.event_name)):
            batch.append(
                EventRow(
                    environment_id=event.environment_id,
                    event_id=event.event_id,
                    event_name=event.event_name,
                    external_customer_id=event.external_customer_id,
                    customer_id=event.customer_id,
                    timestamp=event.timestamp,
                    source=event.source,
                    properties=event.properties,
                    properties_json="",
                )
            )
            if len(batch) >= 10_000:
                self.fold_into_hourly(conn, [meter], batch)
                batch = []
        if batch:
            self.fold_into_hourly(conn, [meter], batch)


def _event_params(row: EventRow, ingested: int) -> tuple[Any, ...]:
    return (
        row.environment_id,
        row.event_id,
        row.event_name,
        row.external_customer_id,
        row.customer_id,
        row.timestamp,
        ingested,
        row.source,
        row.properties_json,
    )


def meter_spec_of_row(row: Any) -> MeterSpec:
    filters = row[6]
    if isinstance(filters, str):
        filters = orjson.loads(filters)
    multiplier = row[5]
    return MeterSpec(
        id=row[0],
        environment_id=row[1],
        event_name=row[2],
        aggregation_type=row[3],
        field=row[4],
        multiplier=Decimal(str(multiplier)) if multiplier is not None else None,
        filters=filters_of(filters),
        bucket_size=row[7],
        group_by=row[8],
    )
