"""The ClickHouse event store: events in a ReplacingMergeTree, aggregated in ClickHouse.

All ClickHouse SQL of Meterline lives here. The catalog (meters, customers) and money stay
in the SQL database; only events move.

Table design (created on start, ``CREATE ... IF NOT EXISTS``):

* ``ReplacingMergeTree`` ordered by ``(environment_id, event_name, external_customer_id,
  timestamp, event_id)``: the key ends with the dedup key, and a usage query of one customer
  and meter reads one contiguous range. Partitioned by month of the event's timestamp.
* Dedup, as on the SQL store, is decided at write time: the writer (one per process, group
  commit) looks up the batch's event ids (a bloom-filter skip index on ``event_id``) and
  inserts only the new ones, so the ``new``/``duplicates`` counts are exact. What can still
  slip through is a race between two processes inserting the same event at the same moment,
  or an insert retried after a lost acknowledgement; such copies have the same key and every
  read collapses them, either with ``FINAL`` (the default) or with an ``argMax`` group-by
  over the key (``dedup="argmax"``). Merges make them disappear for good later.
* Reads push the meter's filters, the value extraction and the aggregation into ClickHouse:
  a usage query returns one partial aggregate per (group, time bucket), never raw rows,
  holding the fold parts the meter's aggregation reads (each part's ClickHouse aggregates
  are in ``metering/folds.py``), except for aggregations that do not fold (COUNT_UNIQUE,
  WEIGHTED_SUM), which are computed per event exactly as on the SQL store.

Quantities are ``Decimal256(24)`` inside ClickHouse; an event's value is bounded as
``kernel.money`` bounds it (below 10^26, 12 places), so sums stay exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import Connection

from meterline.kernel.money import FRACTION_DIGITS, LIMIT, MONEY_CONTEXT
from meterline.metering.aggregations import MeterSpec, aggregation_of, property_text
from meterline.metering.folds import PARTS, Fold
from meterline.metering.ingest import EventRow, first_of_each, now_micros
from meterline.metering.stores.sql_reads import EventPage, EventRange, StoredEvent, _loads

SCALE = 24
_ID_CHUNK = 10_000
# A property filter: the key and the values it may hold.
_Filter = tuple[str, frozenset[str]]
# Sorting key = the key ReplacingMergeTree collapses on; the argMax read groups by it too.
_KEY = "environment_id, event_name, external_customer_id, timestamp, event_id"
_COLUMNS = (
    "environment_id",
    "event_name",
    "external_customer_id",
    "timestamp",
    "event_id",
    "customer_id",
    "source",
    "properties",
    "ingested_at",
    "batch_index",
)
_SEQ_FACTOR = 1_000_000  # seq = ingested_at * factor + index in the batch (batches < 1M)


def connect_client(url: str) -> tuple[Any, str, bool]:
    """A clickhouse-connect client for ``url``, the database name, and whether it is chdb.

    ``chdb:///path`` opens the in-process engine at ``path``; anything else is an HTTP(S)
    DSN understood by ``clickhouse_connect.get_client(dsn=...)``.
    """
    import clickhouse_connect

    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        path = parsed.path or "/tmp/meterline-chdb"
        return clickhouse_connect.get_client(interface="chdb", path=path), "meterline", True
    database = parsed.path.strip("/") or "meterline"
    client = clickhouse_connect.get_client(dsn=url, database="default")
    return client, database, False


@dataclass(frozen=True)
class BucketFold:
    """A partial aggregate of one (customer?, group?, bucket) computed by ClickHouse."""

    customer: str | None
    group: str | None
    bucket: int
    fold: Fold


def _number(value: Any) -> Decimal:
    """A Decimal256 from ClickHouse without its 24 trailing zeros (what Python would hold)."""
    if value is None:
        return Decimal(0)
    number = Decimal(value)
    return number.normalize(MONEY_CONTEXT) if number else Decimal(0)


def group_text(token: str | None) -> str | None:
    """The group value as filters and groups compare it, from the encoded JSON token."""
    if token is None:
        return None
    if token.startswith("s"):
        return token[1:]
    raw = token[1:]
    if raw in ("true", "false"):
        return raw
    try:
        number = Decimal(raw)
    except ArithmeticError:
        return raw
    if property_text(number) is None:
        return None  # no number a meter knows (aggregation.property_text): never int(1e999999)
    return property_text(int(number) if number == number.to_integral_value() else number)


class _Query:
    """A WHERE clause with server-side bound parameters (``{name:Type}``)."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: dict[str, Any] = {}
        self._n = 0

    def param(self, value: Any, kind: str) -> str:
        self._n += 1
        name = f"p{self._n}"
        self.params[name] = value
        return f"{{{name}:{kind}}}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def clause(self) -> str:
        return " WHERE " + " AND ".join(self.conditions) if self.conditions else ""


def _raw(q: _Query, key: str) -> str:
    return f"JSONExtractRaw(properties, {q.param(key, 'String')})"


def value_expression(q: _Query, field: str | None) -> str:
    """The meter's numeric value of an event, as ``aggregation.numeric`` defines it: 0 when
    missing, not a number or out of ``kernel.money``'s bounds, else rounded to 12 places
    (ClickHouse rounds a Decimal half away from zero, as ``bounded_or_zero`` does)."""
    if not field:
        return f"toDecimal256(0, {SCALE})"
    raw = _raw(q, field)
    parsed = (
        f"multiIf(startsWith({raw}, '\"'),"
        f" toDecimal256OrZero(trimBoth(JSONExtractString({raw})), {SCALE}),"
        f" match({raw}, '^-?[0-9]'), toDecimal256OrZero({raw}, {SCALE}),"
        f" toDecimal256(0, {SCALE}))"
    )
    rounded = f"round({parsed}, {FRACTION_DIGITS})"
    limit = f"toDecimal256('{int(LIMIT)}', 0)"
    return f"if(abs({rounded}) < {limit}, {rounded}, toDecimal256(0, {SCALE}))"


def _canonical_numbers(allowed: frozenset[str]) -> list[str]:
    """The allowed values a number can equal: those already in canonical number form."""
    found = []
    for text in allowed:
        try:
            number = Decimal(text)
        except ArithmeticError:
            continue
        canonical = property_text(number)
        if canonical is None:
            continue  # no number a meter knows (aggregation.property_text)
        if canonical == text or (
            number == number.to_integral_value() and property_text(int(number)) == text
        ):
            found.append(text)
    return found


def filter_condition(q: _Query, key: str, allowed: frozenset[str]) -> str:
    """``aggregation.matches`` for one key, in ClickHouse SQL."""
    raw = _raw(q, key)
    strings = q.param(sorted(allowed), "Array(String)")
    parts = [f"(startsWith({raw}, '\"') AND has({strings}, JSONExtractString({raw})))"]
    bools = [b for b in ("true", "false") if b in allowed]
    if bools:
        parts.append(f"has({q.param(bools, 'Array(String)')}, {raw})")
    numbers = _canonical_numbers(allowed)
    if numbers:
        as_decimals = q.param(numbers, "Array(String)")
        parts.append(
            f"(match({raw}, '^-?[0-9]') AND has(arrayMap(x -> toDecimal256(x, {SCALE}),"
            f" {as_decimals}), toDecimal256OrNull({raw}, {SCALE})))"
        )
    return "(" + " OR ".join(parts) + ")"


def group_expression(q: _Query, key: str) -> str:
    """A group value encoded so Python can canonicalise it: 's'+string or 'r'+raw token."""
    raw = _raw(q, key)
    return (
        f"multiIf({raw} IN ('', 'null'), NULL, startsWith({raw}, '\"'),"
        f" concat('s', JSONExtractString({raw})), concat('r', {raw}))"
    )


class ClickHouseEventStore:
    """Events in ClickHouse; see the module docstring for the design."""

    def __init__(self, client: Any, database: str, *, serialize: bool, dedup: str = "final"):
        if dedup not in ("final", "argmax"):
            raise ValueError("dedup must be 'final' or 'argmax'")
        self.client = client
        self.database = database
        self.table = f"{database}.events"
        self.dedup = dedup
        # chdb is one engine in this process; its client is not safe to share across threads.
        self._lock: threading.Lock | None = threading.Lock() if serialize else None

    @classmethod
    def from_url(cls, url: str, *, dedup: str = "final") -> ClickHouseEventStore:
        client, database, is_chdb = connect_client(url)
        store = cls(client, database, serialize=is_chdb, dedup=dedup)
        store.create_schema()
        return store

    # ---- plumbing -----------------------------------------------------------------------

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if self._lock is None:
            return list(self.client.query(sql, parameters=params or {}).result_rows)
        with self._lock:
            return list(self.client.query(sql, parameters=params or {}).result_rows)

    def _command(self, sql: str) -> None:
        if self._lock is None:
            self.client.command(sql)
            return
        with self._lock:
            self.client.command(sql)

    def create_schema(self) -> None:
        self._command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self._command(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " environment_id LowCardinality(String),"
            " event_name LowCardinality(String),"
            " external_customer_id String,"
            " timestamp Int64,"
            " event_id String,"
            " customer_id Nullable(String),"
            " source Nullable(String),"
            " properties String CODEC(ZSTD(3)),"
            " ingested_at Int64,"
            " batch_index UInt32,"
            " INDEX ix_event_id event_id TYPE bloom_filter(0.001) GRANULARITY 1"
            ") ENGINE = ReplacingMergeTree"
            " PARTITION BY toYYYYMM(fromUnixTimestamp64Micro(timestamp))"
            f" ORDER BY ({_KEY})"
        )

    def _source(self, where: _Query) -> str:
        """The deduplicated events matching ``where``, as a FROM clause."""
        if self.dedup == "final":
            return f"{self.table} FINAL{where.clause()}"
        newest = "argMax((customer_id, source, properties, ingested_at, batch_index),"
        newest += " (ingested_at, batch_index))"
        return (
            f"(SELECT {_KEY}, newest.1 AS customer_id, newest.2 AS source,"
            " newest.3 AS properties, newest.4 AS ingested_at, newest.5 AS batch_index"
            f" FROM (SELECT {_KEY}, {newest} AS newest"
            f" FROM {self.table}{where.clause()} GROUP BY {_KEY}))"
        )

    # ---- writes --------------------------------------------------------------------------

    def insert(self, conn: Connection | None, rows: Sequence[EventRow]) -> list[bool]:
        """Store the rows not stored before; per row, whether it was new (first one wins)."""
        if not rows:
            return []
        candidates = first_of_each(rows)
        stored = self._existing_ids([rows[i] for i in candidates])
        fresh = [i for i in candidates if (rows[i].environment_id, rows[i].event_id) not in stored]
        flags = [False] * len(rows)
        if fresh:
            ingested = now_micros()
            data = [
                (
                    rows[i].environment_id,
                    rows[i].event_name,
                    rows[i].external_customer_id,
                    rows[i].timestamp,
                    rows[i].event_id,
                    rows[i].customer_id,
                    rows[i].source,
                    rows[i].properties_json or "{}",
                    ingested,
                    position,
                )
                for position, i in enumerate(fresh)
            ]
            self._insert(data)
            for i in fresh:
                flags[i] = True
        return flags

    def _insert(self, data: list[tuple[Any, ...]]) -> None:
        if self._lock is None:
            self.client.insert(self.table, data, column_names=list(_COLUMNS))
            return
        with self._lock:
            self.client.insert(self.table, data, column_names=list(_COLUMNS))

    def _existing_ids(self, rows: Sequence[EventRow]) -> set[tuple[str, str]]:
        by_env: dict[str, list[str]] = {}
        for row in rows:
            by_env.setdefault(row.environment_id, []).append(row.event_id)
        found: set[tuple[str, str]] = set()
        for env, ids in by_env.items():
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start : start + _ID_CHUNK]
                for (event_id,) in self._query(
                    f"SELECT DISTINCT event_id FROM {self.table}"
                    " WHERE environment_id = {env:String} AND event_id IN {ids:Array(String)}",
                    {"env": env, "ids": chunk},
                ):
                    found.add((env, event_id))
        return found

    def rebuild_hourly(self, conn: Connection, meter: MeterSpec) -> None:
        """Nothing to rebuild: ClickHouse aggregates raw events at query time."""

    # ---- raw reads -----------------------------------------------------------------------

    def _base(
        self, environment_id: str, wanted: EventRange, filters: Sequence[_Filter] = ()
    ) -> _Query:
        q = _Query()
        q.where(f"environment_id = {q.param(environment_id, 'String')}")
        if wanted.event_name is not None:
            q.where(f"event_name = {q.param(wanted.event_name, 'String')}")
        if wanted.customer is not None:
            q.where(f"external_customer_id = {q.param(wanted.customer, 'String')}")
        if wanted.start is not None:
            q.where(f"timestamp >= {q.param(wanted.start, 'Int64')}")
        if wanted.end is not None:
            q.where(f"timestamp < {q.param(wanted.end, 'Int64')}")
        for key, allowed in filters:
            q.where(filter_condition(q, key, allowed))
        return q

    _SELECT = (
        "SELECT ingested_at, batch_index, environment_id, event_id, event_name,"
        " external_customer_id, customer_id, timestamp, source, properties FROM "
    )

    def scan(
        self,
        conn: Connection | None,
        environment_id: str,
        wanted: EventRange,
        filters: Sequence[_Filter] = (),
    ) -> Iterator[StoredEvent]:
        """Raw events in ingest order within ``[start, end)``, the filters applied in SQL."""
        q = self._base(environment_id, wanted, filters)
        rows = self._query(
            self._SELECT + self._source(q) + " ORDER BY ingested_at, batch_index", q.params
        )
        for row in rows:
            yield _stored(row)

    def page(
        self, conn: Connection | None, environment_id: str, wanted: EventPage = EventPage()
    ) -> tuple[list[StoredEvent], int]:
        """One page of raw events and the total that match."""
        q = self._base(environment_id, wanted)
        if wanted.event_id is not None:
            q.where(f"event_id = {q.param(wanted.event_id, 'String')}")
        if wanted.source is not None:
            q.where(f"source = {q.param(wanted.source, 'String')}")
        source_sql = self._source(q)
        total = self._query("SELECT count() FROM " + source_sql, q.params)[0][0]
        direction = "DESC" if wanted.descending else "ASC"
        order = {
            "event_name": f"event_name {direction}, ",
            "ingested_at": "",
        }.get(wanted.order_by, f"timestamp {direction}, ")
        rows = self._query(
            self._SELECT
            + source_sql
            + f" ORDER BY {order}ingested_at {direction}, batch_index {direction}"
            + f" LIMIT {int(wanted.limit)} OFFSET {int(wanted.offset)}",
            q.params,
        )
        return [_stored(row) for row in rows], int(total)

    # ---- aggregation ---------------------------------------------------------------------

    def folds(
        self,
        meter: MeterSpec,
        *,
        customer: str | None,
        start: int,
        end: int,
        filters: Sequence[tuple[str, frozenset[str]]] = (),
        group_field: str | None = None,
        bucket_us: int | None = None,
        by_customer: bool = False,
    ) -> list[BucketFold]:
        """Partial aggregates of the meter's events in ``[start, end)``, computed in ClickHouse.

        One row per (customer if ``by_customer``, group if ``group_field``, bucket of
        ``bucket_us`` microseconds since the epoch, or 0 when None). Each holds the count and
        the fold parts the meter's aggregation reads (sum, min, max, latest or earliest value
        by timestamp, then ingest order) of the meter's value, with the meter's filters and
        ``filters`` applied.
        """
        q = self._base(
            meter.environment_id,
            EventRange(meter.event_name, customer, start, end),
            tuple(meter.filters) + tuple(filters),
        )
        parts = [
            p for name, p in PARTS.items() if name in aggregation_of(meter.aggregation_type).parts
        ]
        value = value_expression(q, meter.field) if parts else f"toDecimal256(0, {SCALE})"
        group = group_expression(q, group_field) if group_field else "NULL"
        bucket = (
            f"intDiv(timestamp, {int(bucket_us)}) * {int(bucket_us)}" if bucket_us else "toInt64(0)"
        )
        who = "external_customer_id" if by_customer else "NULL"
        aggregates = "".join(", " + e for part in parts for e in part.clickhouse)
        sql = (
            f"SELECT who, grp, bucket, count(){aggregates}"
            f" FROM (SELECT {who} AS who, {group} AS grp, {bucket} AS bucket, {value} AS v,"
            f" timestamp, ingested_at, batch_index FROM {self._source(q)})"
            f" GROUP BY who, grp, bucket"
        )
        found = []
        for row in self._query(sql, q.params):
            fold = Fold(count=int(row[3]))
            offset = 4
            for part in parts:
                width = len(part.clickhouse)
                part.load(fold, row[offset : offset + width], _number)
                offset += width
            found.append(BucketFold(customer=row[0], group=row[1], bucket=int(row[2]), fold=fold))
        return found


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        seq=int(row[0]) * _SEQ_FACTOR + int(row[1]),
        environment_id=row[2],
        event_id=row[3],
        event_name=row[4],
        external_customer_id=row[5],
        customer_id=row[6],
        timestamp=int(row[7]),
        ingested_at=int(row[0]),
        source=row[8],
        properties=_loads(row[9]),
    )
