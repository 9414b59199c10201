"""EARLIEST: the first value in the window by timestamp, ties to the earlier-ingested event.

Golden cases on the fold, then an oracle test per store (SQLite, PostgreSQL, ClickHouse via
chdb): the optimised read of each store (rollups folded at write time and rebuilt, or
ClickHouse aggregates) equals the obvious computation over the raw events: sort by
(timestamp, ingest position), take the first in each window.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.db.engine import Database
from meterline.db.migrate import upgrade
from meterline.kernel.calendar import zone
from meterline.metering.aggregations import (
    AGGREGATION_TYPES,
    DAY_US,
    HOUR_US,
    Fold,
    MeterSpec,
    aggregation_of,
    result,
)
from meterline.metering.ingest import EventRow
from meterline.metering.query import UsageQuery, UsageReader
from meterline.metering.stores.sql import SqlEventStore
from meterline.metering.windows import window_start
from meterline.settings import Settings

T0 = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z in µs
MINUTE = 60_000_000
SPAN = 3 * DAY_US
_runs = itertools.count()


def meter(env: str = "env") -> MeterSpec:
    return MeterSpec(
        id=f"meter_earliest_{env}",
        environment_id=env,
        event_name="e",
        aggregation_type="EARLIEST",
        field="v",
    )


# ---- golden cases ---------------------------------------------------------------------------


def test_earliest_is_registered_after_the_flexprice_types() -> None:
    assert AGGREGATION_TYPES[-1] == "EARLIEST"
    earliest = aggregation_of("EARLIEST")
    assert earliest.foldable and earliest.parts == frozenset({"earliest"})
    assert earliest.needs_field and not earliest.additive and not earliest.bucketable


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], "0"),
        ([("5", 30)], "5"),
        ([("5", 30), ("7", 10), ("9", 20)], "7"),  # the smallest timestamp, not the first added
        ([("5", 10), ("7", 10)], "5"),  # a tie: the earlier-ingested event
        ([("-2.5", 10), ("0", 40)], "-2.5"),
    ],
)
def test_earliest_of_events(events: list[tuple[str, int]], expected: str) -> None:
    fold = Fold()
    for value, at in events:
        fold.add(Decimal(value), at)
    assert result(meter(), fold) == Decimal(expected)


def test_merging_keeps_the_earlier_ingested_of_tied_events() -> None:
    first, second = Fold(), Fold()
    first.add(Decimal(1), 10)
    second.add(Decimal(2), 10)
    second.add(Decimal(3), 11)
    first.merge(second)  # second holds events ingested after first's
    assert (first.count, first.earliest_ts, first.earliest_value) == (3, 10, Decimal(1))
    later = Fold()
    later.add(Decimal(4), 9)
    first.merge(later)
    assert result(meter(), first) == Decimal(4)


# ---- the oracle, on every store -------------------------------------------------------------


def obvious(
    events: list[tuple[int, str, Decimal]],
    start: int,
    end: int,
    customer: str | None,
    window: str | None,
    tz: str,
) -> tuple[Decimal, list[tuple[int, Decimal]]]:
    """The first value (by timestamp, then ingest position) overall and per window."""
    chosen = sorted(
        (at, position, value)
        for position, (at, who, value) in enumerate(events)
        if start <= at < end and customer in (None, who)
    )
    if not chosen:
        return Decimal(0), []
    per_window: dict[int, Decimal] = {}
    if window:
        for at, _position, value in chosen:
            per_window.setdefault(window_start(at, window, zone(tz)), value)
    return chosen[0][2], sorted(per_window.items())


values = st.decimals(min_value=-50, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
# Few distinct instants, so that ties (same timestamp, several events) are common.
instants = st.builds(
    lambda minute, jitter: minute * MINUTE + jitter,
    st.integers(0, SPAN // MINUTE - 1),
    st.sampled_from([0, 0, 1]),
)
samples = st.lists(
    st.tuples(
        st.one_of(instants, st.sampled_from([HOUR_US, DAY_US + 5])),
        st.sampled_from(["a", "b"]),
        values,
    ),
    min_size=1,
    max_size=30,
)
bounds = st.tuples(instants, instants).filter(lambda b: b[0] < b[1])
windows = st.sampled_from([None, "HOUR", "DAY", "WEEK", "MONTH", "15MIN"])
zones = st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York", "Asia/Kathmandu"])


def rows_of(env: str, events: list[tuple[int, str, Decimal]]) -> list[EventRow]:
    return [
        EventRow(env, f"e{i}", "e", who, None, T0 + at, None, {"v": str(v)}, f'{{"v":"{v}"}}')
        for i, (at, who, v) in enumerate(events)
    ]


class SqlStore:
    """Rollups as the server keeps them: the first events before the meter (then rebuilt),
    the rest folded at write time, one small batch after another."""

    def __init__(self, url: str) -> None:
        upgrade(url)
        self.db = Database.connect(Settings(database_url=url))
        self.store = SqlEventStore(self.db.dialect)

    def load(self, spec: MeterSpec, rows: list[EventRow]) -> None:
        half = len(rows) // 2
        with self.db.session() as session:
            conn = session.connection()
            self.store.insert(conn, rows[:half])
            self.store.rebuild_hourly(conn, spec)
        for start in range(half, len(rows), 3):
            with self.db.session() as session:
                conn = session.connection()
                batch = rows[start : start + 3]
                self.store.insert(conn, batch)
                self.store.fold_into_hourly(conn, [spec], batch)

    def query(self, q: UsageQuery) -> Any:
        with self.db.session(write=False) as session:
            return UsageReader(self.store).query(session.connection(), q)

    def close(self) -> None:
        self.db.dispose()


class ClickHouseStore:
    def __init__(self, url: str) -> None:
        from meterline.metering.stores.clickhouse import ClickHouseEventStore

        self.store = ClickHouseEventStore.from_url(url)

    def load(self, spec: MeterSpec, rows: list[EventRow]) -> None:
        for start in range(0, len(rows), 3):
            self.store.insert(None, rows[start : start + 3])

    def query(self, q: UsageQuery) -> Any:
        from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader

        return ClickHouseUsageReader(self.store).query(None, q)  # type: ignore[arg-type]

    def close(self) -> None:
        pass


def _has_chdb() -> bool:
    try:
        import chdb  # noqa: F401
    except ImportError:
        return False
    return True


STORES = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not os.environ.get("METERLINE_TEST_POSTGRES_URL"),
            reason="METERLINE_TEST_POSTGRES_URL not set",
        ),
    ),
    pytest.param(
        "clickhouse",
        marks=pytest.mark.skipif(
            os.environ.get("METERLINE_TEST_CLICKHOUSE") != "1" or not _has_chdb(),
            reason="METERLINE_TEST_CLICKHOUSE=1 and chdb needed",
        ),
    ),
]


@pytest.fixture(scope="module", params=STORES)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("earliest")
    if request.param == "sqlite":
        opened: Any = SqlStore(f"sqlite:///{root / 'e.db'}")
    elif request.param == "postgres":
        opened = SqlStore(request.getfixturevalue("database_urls")["postgres"])
    else:
        opened = ClickHouseStore(request.getfixturevalue("chdb_url"))
    yield opened
    opened.close()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=samples, window=windows, tz=zones, span=bounds)
def test_store_earliest_equals_the_first_raw_event(
    store: Any,
    events: list[tuple[int, str, Decimal]],
    window: str | None,
    tz: str,
    span: tuple[int, int],
) -> None:
    # Short: the meter id ("meter_earliest_" + env) must fit 40 characters at any run count.
    env = f"env_e{next(_runs)}_{uuid.uuid4().hex[:8]}"
    spec = meter(env)
    store.load(spec, rows_of(env, events))
    for customer in ("a", None):
        found = store.query(
            UsageQuery(
                meter=spec,
                start=T0 + span[0],
                end=T0 + span[1],
                customer=customer,
                window=window,
                timezone=tz,
            )
        )
        absolute = [(T0 + at, who, v) for at, who, v in events]
        value, per_window = obvious(absolute, T0 + span[0], T0 + span[1], customer, window, tz)
        assert found.value == value
        assert [(w.start, w.value) for w in found.windows] == per_window


@pytest.mark.parametrize("aggregation", ["EARLIEST", "LATEST"])
@pytest.mark.parametrize("window", [None, "DAY"])
def test_a_tie_across_customers_goes_to_the_ingest_order(
    store: Any, aggregation: str, window: str | None
) -> None:
    """Two customers' events at the same instant: their aggregates are separate rows that
    keep no ingest order between them, so the read must not settle the tie by row order
    (it is answered from raw events): EARLIEST takes the first ingested, LATEST the last."""
    env = f"env_tie_{next(_runs)}_{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(meter(env), aggregation_type=aggregation)
    at = DAY_US + 5
    # "b" sorts first but is ingested between the two "a"s; the first event of the load
    # goes in before the rebuild, the other two are folded at write time.
    events = [
        (DAY_US + HOUR_US, "b", Decimal("7")),
        (at, "a", Decimal("0.001")),
        (at, "b", Decimal("0.000")),
        (at, "a", Decimal("3")),
    ]
    store.load(spec, rows_of(env, events))
    found = store.query(
        UsageQuery(meter=spec, start=T0, end=T0 + 2 * DAY_US, customer=None, window=window)
    )
    expected = {"EARLIEST": Decimal("0.001"), "LATEST": Decimal("7")}[aggregation]
    assert found.value == expected
    if aggregation == "LATEST":
        # Without the later event, the tie at ``at`` decides: the last ingested ("a", 3).
        env = f"env_tie_{next(_runs)}_{uuid.uuid4().hex[:8]}"
        spec = dataclasses.replace(meter(env), aggregation_type=aggregation)
        store.load(spec, rows_of(env, [(at, "a", Decimal("3")), (at, "b", Decimal("0.5"))]))
        found = store.query(
            UsageQuery(meter=spec, start=T0, end=T0 + 2 * DAY_US, customer=None, window=window)
        )
        assert found.value == Decimal("0.5")
