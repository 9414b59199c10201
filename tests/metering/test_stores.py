"""The two event stores side by side: the same events give the same answers, to the event.

The reference is the SQL store's raw path (``UsageReader.query_raw``: Python folds every
matching event); the ClickHouse store must agree for every aggregation type, window, time
zone, filter and group-by, with the filters and aggregation done in ClickHouse SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.db.engine import Database
from meterline.db.migrate import upgrade
from meterline.kernel.instants import to_micros
from meterline.metering.aggregations import MeterSpec, filters_of
from meterline.metering.ingest import EventRow
from meterline.metering.query import UsageQuery, UsageReader
from meterline.metering.stores.sql import SqlEventStore
from meterline.metering.stores.sql_reads import EventPage
from meterline.settings import Settings

clickhouse = pytest.importorskip("meterline.metering.stores.clickhouse")
pytest.importorskip("chdb")

T0 = to_micros(datetime(2026, 3, 1, tzinfo=UTC))
HOUR = 3_600_000_000
_encode = msgspec.json.Encoder(decimal_format="number")


@dataclass
class Stores:
    db: Database
    sql: SqlEventStore
    ch: Any  # ClickHouseEventStore

    def insert(self, rows: list[EventRow]) -> tuple[list[bool], list[bool]]:
        with self.db.session() as session:
            sql_flags = self.sql.insert(session.connection(), rows)
        return sql_flags, self.ch.insert(None, rows)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, chdb_url: str) -> Iterator[Stores]:
    root: Path = tmp_path_factory.mktemp("stores")
    url = f"sqlite:///{root / 'events.db'}"
    upgrade(url)
    db = Database.connect(Settings(database_url=url))
    # chdb is one engine per process: one store for the whole module, on the process's path.
    ch = clickhouse.ClickHouseEventStore.from_url(chdb_url)
    yield Stores(db, SqlEventStore("sqlite"), ch)
    db.dispose()


def row(env: str, eid: str, ts: int, props: dict[str, Any], customer: str = "c1") -> EventRow:
    return EventRow(
        environment_id=env,
        event_id=eid,
        event_name="call",
        external_customer_id=customer,
        customer_id=None,
        timestamp=ts,
        source=None,
        properties=props,
        properties_json=_encode.encode(props).decode(),
    )


def test_both_stores_deduplicate_within_and_across_batches(stores: Stores) -> None:
    env = uuid.uuid4().hex
    first = [row(env, "a", T0, {}), row(env, "b", T0, {}), row(env, "a", T0 + 1, {"x": 1})]
    assert stores.insert(first) == ([True, True, False], [True, True, False])
    again = [row(env, "b", T0, {}), row(env, "c", T0, {})]
    assert stores.insert(again) == ([False, True], [False, True])
    # The same event id in another environment is another event.
    assert stores.insert([row(uuid.uuid4().hex, "a", T0, {})]) == ([True], [True])
    with stores.db.session(write=False) as session:
        sql_page, sql_total = stores.sql.page(
            session.connection(), env, EventPage(order_by="timestamp")
        )
    ch_page, ch_total = stores.ch.page(None, env, EventPage(order_by="timestamp"))
    assert sql_total == ch_total == 3
    assert [e.event_id for e in ch_page] == [e.event_id for e in sql_page]
    # The first of two rows with one id wins: "a" keeps its first timestamp and properties.
    assert {e.event_id: (e.timestamp, e.properties) for e in ch_page}["a"] == (T0, {})


@pytest.mark.parametrize("dedup", ["final", "argmax"])
def test_racing_copies_count_once_with_final_and_with_argmax(stores: Stores, dedup: str) -> None:
    env = uuid.uuid4().hex
    rows = [row(env, f"r{i}", T0 + i * HOUR, {"tokens": i}) for i in range(5)]
    stores.ch.insert(None, rows)
    # Two processes that both found the ids absent insert the same events again: the second
    # copies bypass the write-time check and share their key with the first.
    copies = [(r.environment_id, r.event_name, r.external_customer_id, r.timestamp, r.event_id,
               None, None, r.properties_json, 1, i) for i, r in enumerate(rows)]  # fmt: skip
    stores.ch._insert(copies)
    reader_store = clickhouse.ClickHouseEventStore(
        stores.ch.client, stores.ch.database, serialize=True, dedup=dedup
    )
    reader_store._lock = stores.ch._lock  # one chdb engine: share its lock
    meter = MeterSpec(id="m", environment_id=env, event_name="call", aggregation_type="SUM",
                      field="tokens")  # fmt: skip
    folds = reader_store.folds(meter, customer=None, start=T0, end=T0 + 10 * HOUR)
    assert [(f.fold.count, f.fold.total) for f in folds] == [(5, Decimal(10))]
    assert reader_store.page(None, env)[1] == 5


FILTER_EVENTS: list[dict[str, Any]] = [
    {"model": 1},
    {"model": Decimal("1.50")},
    {"model": "1"},
    {"model": "1.5"},
    {"model": True},
    {"model": 2},
    {"model": None},
    {"model": " 1"},
    {},
]


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (["1"], 2),  # the number 1 and the string "1"
        (["1.5"], 2),  # the number 1.50 reads as 1.5, and the string "1.5"
        (["1.50"], 0),  # numbers compare in their canonical text, strings as they are
        (["true"], 1),
        (["2", "1"], 3),
        (["2.0"], 0),
        ([" 1"], 1),
        (["None", "null"], 0),
    ],
)
def test_filters_compare_property_values_as_text_on_both_stores(
    stores: Stores, allowed: list[str], expected: int
) -> None:
    from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader

    env = uuid.uuid4().hex
    stores.insert([row(env, f"f{i}", T0 + i, p) for i, p in enumerate(FILTER_EVENTS)])
    meter = MeterSpec(id="m", environment_id=env, event_name="call", aggregation_type="COUNT",
                      filters=filters_of({"model": allowed}))  # fmt: skip
    query = UsageQuery(meter=meter, start=T0, end=T0 + HOUR)
    with stores.db.session(write=False) as session:
        on_sql = UsageReader(stores.sql).query_raw(session.connection(), query).value
    on_clickhouse = ClickHouseUsageReader(stores.ch).query(None, query).value  # type: ignore[arg-type]
    assert on_sql == on_clickhouse == expected


# ---- the same answers, for any events and any query ----------------------------------------

values = st.one_of(
    st.sampled_from(["a", "b", "1", "1.5", " 2 ", "x y", "1e2", "-3"]),
    st.integers(min_value=-5, max_value=20),
    st.sampled_from([Decimal("1.5"), Decimal("1.50"), Decimal("2.0"), Decimal("-0.25")]),
    st.booleans(),
    st.none(),
)
properties = st.dictionaries(st.sampled_from(["tokens", "model", "user"]), values, max_size=3)
events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 24 * 60),  # minute offset from T0
        st.sampled_from(["c1", "c2"]),
        properties,
    ),
    min_size=0,
    max_size=25,
)
filter_values = st.frozensets(
    st.sampled_from(["a", "1", "1.5", "1.50", "2", "2.0", "true", "false", "0", "-0.25", "-3"]),
    min_size=1,
    max_size=3,
)


@st.composite
def queries(draw: st.DrawFn) -> tuple[MeterSpec, dict[str, Any]]:
    kind = draw(
        st.sampled_from(
            [
                "COUNT",
                "SUM",
                "AVG",
                "MAX",
                "MIN",
                "LATEST",
                "EARLIEST",
                "SUM_WITH_MULTIPLIER",
                "COUNT_UNIQUE",
                "WEIGHTED_SUM",
            ]
        )
    )
    field = "user" if kind == "COUNT_UNIQUE" else draw(st.sampled_from(["tokens", "model"]))
    meter_filters = draw(st.one_of(st.just({}), st.fixed_dictionaries({"model": filter_values})))
    meter = MeterSpec(
        id="m",
        environment_id="",
        event_name="call",
        aggregation_type=kind,
        field=None if kind == "COUNT" else field,
        multiplier=Decimal("0.5") if kind == "SUM_WITH_MULTIPLIER" else None,
        filters=filters_of(meter_filters),
        bucket_size=draw(st.sampled_from([None, None, "HOUR", "DAY"])),
        group_by=None,
    )
    start = T0 + draw(st.integers(min_value=-60, max_value=24 * 60)) * 60_000_000
    query = {
        "start": start,
        "end": start + draw(st.integers(min_value=1, max_value=3 * 24 * 60)) * 60_000_000,
        "customer": draw(st.sampled_from([None, "c1"])),
        "window": draw(st.sampled_from([None, "MINUTE", "15MIN", "HOUR", "3HOUR", "DAY", "WEEK"])),
        "timezone": draw(
            st.sampled_from([None, "UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York"])
        ),
        "filters": filters_of(draw(st.one_of(st.just({}), st.fixed_dictionaries({"tokens": filter_values})))),
        "group_by": draw(st.sampled_from([None, None, "model", "tokens"])),
    }  # fmt: skip
    return meter, query


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sample=events, spec=queries())
def test_clickhouse_answers_equal_the_sql_store(
    stores: Stores, sample: list[tuple[int, str, dict[str, Any]]], spec: Any
) -> None:
    from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader

    env = uuid.uuid4().hex
    rows = [
        row(env, f"e{i}", T0 + minute * 60_000_000 + i, props, customer)
        for i, (minute, customer, props) in enumerate(sample)
    ]
    stores.insert(rows)
    meter, params = spec
    query = UsageQuery(meter=MeterSpec(**{**meter.__dict__, "environment_id": env}), **params)
    with stores.db.session(write=False) as session:
        expected = UsageReader(stores.sql).query_raw(session.connection(), query)
    actual = ClickHouseUsageReader(stores.ch).query(None, query)  # type: ignore[arg-type]
    assert actual == expected
