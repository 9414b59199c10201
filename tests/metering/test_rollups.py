"""The hourly/daily aggregates give the same answers as the raw events, for any events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.db.engine import Database
from meterline.db.migrate import upgrade
from meterline.metering.aggregations import DAY_US, HOUR_US, MeterSpec
from meterline.metering.ingest import EventRow
from meterline.metering.query import UsageQuery, UsageReader
from meterline.metering.stores.sql import SqlEventStore
from meterline.settings import Settings

T0 = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z in µs
SPAN = 5 * DAY_US
_ids = itertools.count()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("rollups") / "r.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database.connect(Settings(database_url=url))
    yield database
    database.dispose()


values = st.decimals(min_value=-50, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
MINUTE = 60_000_000
# Instants drawn in minutes (plus a few µs), so that ranges span hours and days.
instants = st.builds(
    lambda minute, jitter: minute * MINUTE + jitter,
    st.integers(0, SPAN // MINUTE - 1),
    st.integers(0, 3),
)
events = st.lists(st.tuples(instants, st.sampled_from(["a", "b"]), values), min_size=1, max_size=40)
aggregations = st.sampled_from(["COUNT", "SUM", "AVG", "MAX", "MIN", "LATEST", "EARLIEST"])
windows = st.sampled_from([None, "HOUR", "DAY", "WEEK", "MONTH"])
zones = st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"])
bounds = st.tuples(instants, instants).filter(lambda b: b[0] < b[1])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events, aggregation=aggregations, window=windows, zone=zones, span=bounds)
def test_aggregates_equal_raw_events(
    db: Database,
    events: list[tuple[int, str, Decimal]],
    aggregation: str,
    window: str | None,
    zone: str,
    span: tuple[int, int],
) -> None:
    run = next(_ids)
    env = f"env_rollup_{run}"
    meter = MeterSpec(
        id=f"meter_rollup_{run}",
        environment_id=env,
        event_name="e",
        aggregation_type=aggregation,
        field="v",
    )
    store = SqlEventStore("sqlite")
    rows = [
        EventRow(
            env, f"{run}-{i}", "e", customer, None, T0 + at, None, {"v": str(v)}, f'{{"v":"{v}"}}'
        )
        for i, (at, customer, v) in enumerate(events)
    ]
    with db.session() as session:
        conn = session.connection()
        store.insert(conn, rows[: len(rows) // 2])
        store.rebuild_hourly(conn, meter)  # as if the meter was created mid-stream
    with db.session() as session:
        # The rest arrives after the meter exists: folded at write time.
        conn = session.connection()
        for row in rows[len(rows) // 2 :]:
            store.insert(conn, [row])
            store.fold_into_hourly(conn, [meter], [row])
    reader = UsageReader(store)
    with db.session(write=False) as session:
        conn = session.connection()
        for customer in ("a", None):
            query = UsageQuery(
                meter=meter,
                start=T0 + span[0],
                end=T0 + span[1],
                customer=customer,
                window=window,
                timezone=zone,
            )
            folded = reader.query(conn, query)
            raw = reader.query_raw(conn, query)
            assert folded.value == raw.value
            assert [(w.start, w.value) for w in folded.windows] == [
                (w.start, w.value) for w in raw.windows
            ]


def test_hour_and_day_buckets_line_up() -> None:
    assert DAY_US == 24 * HOUR_US
    assert T0 % DAY_US == 0
