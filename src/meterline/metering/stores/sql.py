"""The SQL event store: deduplicated inserts, hourly aggregates, raw scans.

All SQL of the events domain lives here. The hot insert path speaks the driver directly
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
``db/engine.py`` registers on every connection. A total that would pass the column's bounds
stays at its largest value on both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection

from meterline.db.base import canonical_decimal
from meterline.kernel.money import LARGEST, in_money_context, saturate
from meterline.metering.aggregations import (
    ALL_PARTS,
    DAY_US,
    HOUR_US,
    PARTS_NEEDED,
    Fold,
    MeterSpec,
    event_value,
    filters_of,
    matches,
)
from meterline.metering.ingest import EventRow, now_micros


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


_batch_encoder = msgspec.json.Encoder()


def _json(value: Any) -> str:
    return _batch_encoder.encode(value).decode()


_properties_decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


def _loads(text: str | None) -> dict[str, Any]:
    """Stored properties, numbers with a fraction read back as exact decimals."""
    if not text:
        return {}
    return _properties_decoder.decode(text)


class SqlEventStore:
    """Events and their hourly aggregates in the catalog database (SQLite or PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.is_sqlite = dialect == "sqlite"
        self.p = "?" if self.is_sqlite else "%s"

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
        seen: set[tuple[str, str]] = set()
        candidates: list[int] = []
        for index, row in enumerate(rows):
            key = (row.environment_id, row.event_id)
            if key not in seen:
                seen.add(key)
                candidates.append(index)
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
        if self.is_sqlite:
            return
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        for env in sorted(environment_ids):
            conn.exec_driver_sql(f"SELECT {function}(hashtext(%s))", (f"meters:{env}",))

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
        parts = {
            meter.id: PARTS_NEEDED.get(meter.aggregation_type, frozenset()) for meter in meters
        }
        deltas: dict[tuple[str, str, int], tuple[str, Fold]] = {}
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
                    fold.add_parts(event_value(meter, row.properties), row.timestamp, needed)
                else:
                    fold.count += 1
        if not deltas:
            return
        daily: dict[tuple[str, str, int], tuple[str, Fold]] = {}
        for (meter_id, customer, hour), (env, fold) in deltas.items():
            key = (meter_id, customer, hour - hour % DAY_US)
            entry = daily.get(key)
            if entry is None:
                entry = (env, Fold())
                daily[key] = entry
            entry[1].merge(fold)
        for table, table_deltas in (("usage_hourly", deltas), ("usage_daily", daily)):
            if self.is_sqlite:
                self._merge_rollup_sqlite(conn, table, table_deltas)
            else:
                self._merge_rollup_pg(conn, table, table_deltas)

    def _merge_rollup_sqlite(
        self, conn: Connection, table: str, deltas: dict[tuple[str, str, int], tuple[str, Fold]]
    ) -> None:
        # One upsert; the decimal arithmetic on the text columns is done by the functions
        # that db/engine.py registers on every SQLite connection (exact, in Python's
        # Decimal), so no existing row has to be read back first.
        conn.exec_driver_sql(
            f"INSERT INTO {table} (meter_id, external_customer_id, bucket_start, environment_id,"
            " event_count, sum_value, min_value, max_value, latest_ts, latest_value)"
            " SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,"
            " value->>7, value->>8, value->>9 FROM json_each(?) WHERE true"
            " ON CONFLICT (meter_id, external_customer_id, bucket_start) DO UPDATE SET"
            " event_count = event_count + excluded.event_count,"
            " sum_value = ml_decimal_add(sum_value, excluded.sum_value),"
            " min_value = ml_decimal_min(min_value, excluded.min_value),"
            " max_value = ml_decimal_max(max_value, excluded.max_value),"
            " latest_value = CASE WHEN latest_ts IS NULL OR excluded.latest_ts >= latest_ts"
            " THEN excluded.latest_value ELSE latest_value END,"
            " latest_ts = CASE WHEN latest_ts IS NULL OR excluded.latest_ts >= latest_ts"
            " THEN excluded.latest_ts ELSE latest_ts END",
            (
                _json(
                    [
                        (
                            meter_id,
                            customer,
                            bucket,
                            env,
                            fold.count,
                            canonical_decimal(saturate(fold.total)),
                            _text(fold.minimum),
                            _text(fold.maximum),
                            fold.latest_ts,
                            _text(fold.latest_value),
                        )
                        for (meter_id, customer, bucket), (env, fold) in deltas.items()
                    ]
                ),
            ),
        )

    def _merge_rollup_pg(
        self, conn: Connection, table: str, deltas: dict[tuple[str, str, int], tuple[str, Fold]]
    ) -> None:
        # One statement for the whole batch (arrays unnested), in key order so concurrent
        # writers lock rows in the same order; executemany would be one statement a row.
        items = sorted(deltas.items())
        columns: list[list[Any]] = [[] for _ in range(10)]
        for (meter_id, customer, bucket), (env, fold) in items:
            for column, value in zip(
                columns,
                (
                    meter_id,
                    customer,
                    bucket,
                    env,
                    fold.count,
                    saturate(fold.total),
                    fold.minimum,
                    fold.maximum,
                    fold.latest_ts,
                    fold.latest_value,
                ),
                strict=True,
            ):
                column.append(value)
        conn.exec_driver_sql(
            f"INSERT INTO {table} AS u (meter_id, external_customer_id, bucket_start,"
            " environment_id, event_count, sum_value, min_value, max_value, latest_ts, latest_value)"
            " SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::varchar[],"
            " %s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::bigint[], %s::numeric[])"
            " ON CONFLICT (meter_id, external_customer_id, bucket_start) DO UPDATE SET"
            " event_count = u.event_count + excluded.event_count,"
            # A total that would pass NUMERIC(38, 12) stays at its largest value (kernel.money
            # bounds each event's value; only a sum of many can pass), never an overflow.
            f" sum_value = LEAST(GREATEST(u.sum_value + excluded.sum_value, -{LARGEST}), {LARGEST}),"
            " min_value = LEAST(u.min_value, excluded.min_value),"
            " max_value = GREATEST(u.max_value, excluded.max_value),"
            " latest_value = CASE WHEN u.latest_ts IS NULL OR excluded.latest_ts >= u.latest_ts"
            " THEN excluded.latest_value ELSE u.latest_value END,"
            " latest_ts = GREATEST(u.latest_ts, excluded.latest_ts)",
            tuple(columns),
        )

    def rebuild_hourly(self, conn: Connection, meter: MeterSpec) -> None:
        """Recompute a meter's hourly aggregates from its raw events (new meter, new filters)."""
        self.lock_meters(conn, [meter.environment_id], exclusive=True)
        for table in ("usage_hourly", "usage_daily"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE meter_id = {self.p}", (meter.id,))
        batch: list[EventRow] = []
        for event in self.scan(conn, meter.environment_id, meter.event_name, None, None, None):
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

    # ---- reads -------------------------------------------------------------------------

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

        ``needs`` names the parts of each fold to read (``total``, ``min``, ``max``,
        ``latest``; the count always): see ``usage.aggregation.PARTS_NEEDED``.
        """
        p = self.p
        # With a customer, the primary key (meter, customer, bucket) is the index to use;
        # SQLite's planner prefers (environment, meter, bucket) and then reads every
        # customer's hours. The unary + keeps the environment check but takes it out of
        # index selection.
        env_term = (
            "+environment_id" if self.is_sqlite and customer is not None else "environment_id"
        )
        sql = (
            "SELECT external_customer_id, bucket_start, event_count, sum_value, min_value,"
            f" max_value, latest_ts, latest_value FROM {_rollup(table)}"
            f" WHERE {env_term} = {p} AND meter_id = {p}"
            f" AND bucket_start >= {p} AND bucket_start < {p}"
        )
        params: tuple[Any, ...] = (environment_id, meter_id, start, end)
        if customer is not None:
            sql += f" AND external_customer_id = {p}"
            params += (customer,)
        needed = needs or ALL_PARTS
        want_total = "total" in needed
        want_min = "min" in needed
        want_max = "max" in needed
        want_latest = "latest" in needed
        # Build only the parts of each fold the aggregation reads: turning text into
        # Decimal is most of the cost of a month of hourly rows.
        for row in conn.exec_driver_sql(sql, params):
            fold = Fold(count=row[2])
            if want_total:
                fold.total = Decimal(row[3])
            if want_min and row[4] is not None:
                fold.minimum = Decimal(row[4])
            if want_max and row[5] is not None:
                fold.maximum = Decimal(row[5])
            if want_latest and row[7] is not None:
                fold.latest_ts = row[6]
                fold.latest_value = Decimal(row[7])
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

        PostgreSQL folds in SQL (exact NUMERIC); SQLite keeps decimals as text, so the
        rows are folded here in one tight pass over the fetched columns.
        """
        needed = needs or ALL_PARTS
        p = self.p
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
        fold = Fold()
        if not self.is_sqlite:
            row = conn.exec_driver_sql(
                "SELECT COALESCE(SUM(event_count), 0), COALESCE(SUM(sum_value), 0),"
                " MIN(min_value), MAX(max_value)" + where,
                params,
            ).one()
            fold.count, fold.total, fold.minimum, fold.maximum = (
                int(row[0]),
                Decimal(row[1]),
                row[2],
                row[3],
            )
            if "latest" in needed and fold.count:
                latest = conn.exec_driver_sql(
                    "SELECT latest_ts, latest_value" + where + " AND latest_ts IS NOT NULL"
                    " ORDER BY latest_ts DESC LIMIT 1",
                    params,
                ).first()
                if latest is not None:
                    fold.latest_ts, fold.latest_value = latest[0], latest[1]
            return fold
        rows = conn.exec_driver_sql(
            "SELECT event_count, sum_value, min_value, max_value, latest_ts, latest_value" + where,
            params,
        ).all()
        if not rows:
            return fold
        fold.count = sum(row[0] for row in rows)
        if "total" in needed:
            fold.total = sum((Decimal(row[1]) for row in rows), Decimal(0))
        if "min" in needed:
            mins = [Decimal(row[2]) for row in rows if row[2] is not None]
            fold.minimum = min(mins) if mins else None
        if "max" in needed:
            maxes = [Decimal(row[3]) for row in rows if row[3] is not None]
            fold.maximum = max(maxes) if maxes else None
        if "latest" in needed:
            last = max(
                (row for row in rows if row[4] is not None), key=lambda r: r[4], default=None
            )
            if last is not None:
                fold.latest_ts, fold.latest_value = last[4], Decimal(last[5])
        return fold

    def scan(
        self,
        conn: Connection,
        environment_id: str,
        event_name: str | None,
        customer: str | None,
        start: int | None,
        end: int | None,
    ) -> Iterator[StoredEvent]:
        """Raw events in ingest order within ``[start, end)``."""
        p = self.p
        sql = (
            "SELECT seq, environment_id, event_id, event_name, external_customer_id, customer_id,"
            f" timestamp, ingested_at, source, properties FROM events WHERE environment_id = {p}"
        )
        params: list[Any] = [environment_id]
        if customer is not None:
            sql += f" AND external_customer_id = {p}"
            params.append(customer)
        if event_name is not None:
            sql += f" AND event_name = {p}"
            params.append(event_name)
        if start is not None:
            sql += f" AND timestamp >= {p}"
            params.append(start)
        if end is not None:
            sql += f" AND timestamp < {p}"
            params.append(end)
        sql += " ORDER BY seq"
        for row in conn.exec_driver_sql(sql, tuple(params)):
            yield _stored(row)

    def page(
        self,
        conn: Connection,
        environment_id: str,
        *,
        event_name: str | None = None,
        customer: str | None = None,
        event_id: str | None = None,
        source: str | None = None,
        start: int | None = None,
        end: int | None = None,
        order_by: str = "timestamp",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[StoredEvent], int]:
        """One page of raw events and the total that match."""
        p = self.p
        where = f" WHERE environment_id = {p}"
        params: list[Any] = [environment_id]
        for column, value in (
            ("external_customer_id", customer),
            ("event_name", event_name),
            ("event_id", event_id),
            ("source", source),
        ):
            if value is not None:
                where += f" AND {column} = {p}"
                params.append(value)
        if start is not None:
            where += f" AND timestamp >= {p}"
            params.append(start)
        if end is not None:
            where += f" AND timestamp < {p}"
            params.append(end)
        total = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM events" + where, tuple(params)
        ).scalar_one()
        column = {"timestamp": "timestamp", "event_name": "event_name", "ingested_at": "seq"}.get(
            order_by, "timestamp"
        )
        direction = "DESC" if descending else "ASC"
        rows = conn.exec_driver_sql(
            "SELECT seq, environment_id, event_id, event_name, external_customer_id, customer_id,"
            " timestamp, ingested_at, source, properties FROM events"
            + where
            + f" ORDER BY {column} {direction}, seq {direction} LIMIT {int(limit)} OFFSET {int(offset)}",
            tuple(params),
        ).all()
        return [_stored(row) for row in rows], int(total)


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


def _text(value: Decimal | None) -> str | None:
    return canonical_decimal(value) if value is not None else None


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
