"""Meter rebuilds as a job: the request records, the job rebuilds, reads stay right between.

In-process, with the clock injected (``run_once(now=...)``), on SQLite and PostgreSQL:
creating a meter after its events, or changing its filters, leaves a pending rebuild and
aggregates that do not match the meter; usage reads are right all the same (the raw path)
and equal to what they are once the job has run; the job claims each rebuild once, gives
up a claim it lost, and takes over one whose runner died once its lease has expired.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from meterline.catalog import service as catalog
from meterline.catalog.commands import CreateMeter, MeterFilter
from meterline.invoicing.usage_loader import SessionUsage
from meterline.kernel.instants import to_micros
from meterline.metering import rebuilds
from meterline.metering.aggregations import DAY_US
from meterline.metering.dashboard import daily_usage_by_customer
from meterline.metering.ingest import EventRow
from meterline.metering.query import UsageQuery
from meterline.metering.rebuild_job import LEASE, MeterRebuildJob
from meterline.metering.service import meter_spec, store_for, usage_reader
from meterline.settings import Settings
from tests.invoicing.service_db import ServiceDb, service_db

__all__ = ["service_db"]

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
T0 = to_micros(datetime(2026, 3, 1, tzinfo=UTC))
HOUR = 3_600_000_000
_encode = msgspec.json.Encoder(decimal_format="number")


@pytest.fixture
def job(service_db: ServiceDb) -> Iterator[MeterRebuildJob]:
    runner = MeterRebuildJob(service_db.db, Settings(database_url=service_db.db.url).events)
    yield runner
    runner.close()


EU_ONLY = (MeterFilter(key="region", values=("eu",)),)


def _events(service_db: ServiceDb, event_name: str, values: list[tuple[str, int]]) -> None:
    """One event per (region, value), an hour apart, for one customer."""
    rows = []
    for i, (region, value) in enumerate(values):
        props = {"region": region, "n": value}
        rows.append(
            EventRow(
                environment_id=service_db.principal.environment_id,
                event_id=uuid.uuid4().hex,
                event_name=event_name,
                external_customer_id="cust",
                customer_id=None,
                timestamp=T0 + i * HOUR + 60_000_000,
                source=None,
                properties=props,
                properties_json=_encode.encode(props).decode(),
            )
        )
    with service_db.db.session() as session:
        store_for(session).insert(session.connection(), rows)


def _new_meter(service_db: ServiceDb, **changes: Any) -> str:
    event_name = "calls-" + uuid.uuid4().hex[:8]
    _events(service_db, event_name, [("eu", 1), ("us", 2), ("eu", 4), ("us", 8), ("eu", 16)])
    with service_db.db.session() as session:
        meter = catalog.create_meter(
            session,
            service_db.principal,
            CreateMeter(
                name="calls", event_name=event_name, aggregation_type="SUM", field="n", **changes
            ),
        )
        return meter.id


def _usage(service_db: ServiceDb, meter_id: str) -> tuple[Decimal, Decimal]:
    """(the read as served, the same read from raw events) over whole hours."""
    with service_db.db.session(write=False) as session:
        spec = meter_spec(catalog.get_meter(session, service_db.principal, meter_id))
        query = UsageQuery(meter=spec, start=T0, end=T0 + 24 * HOUR, customer="cust")
        reader = usage_reader(session)
        conn = session.connection()
        return reader.query(conn, query).value, reader.query_raw(conn, query).value


def _aggregated(service_db: ServiceDb, meter_id: str) -> Decimal:
    """What the meter's hourly aggregates hold (what a folded read would answer)."""
    with service_db.db.session(write=False) as session:
        rows = session.execute(
            text("SELECT sum_value FROM usage_hourly WHERE meter_id = :m"), {"m": meter_id}
        ).all()
    return sum((Decimal(str(r[0])) for r in rows), Decimal(0))


def _state(service_db: ServiceDb, meter_id: str) -> str | None:
    with service_db.db.session(write=False) as session:
        found = rebuilds.status(session, meter_id)
    return None if found is None else found.state


def test_a_new_meter_is_read_right_before_and_after_its_rebuild(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db)
    # The request answered without rebuilding: the aggregates know nothing of the events.
    assert _state(service_db, meter_id) == rebuilds.PENDING
    assert _aggregated(service_db, meter_id) == 0
    assert _usage(service_db, meter_id) == (Decimal(31), Decimal(31))

    assert job.run_once(now=NOW).done >= 1
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _aggregated(service_db, meter_id) == 31
    assert _usage(service_db, meter_id) == (Decimal(31), Decimal(31))
    # Done is done: the next tick has nothing of this meter to do.
    assert meter_id not in [m for m, _ in _due(service_db, NOW + timedelta(hours=1))]


def test_a_filter_change_is_read_right_while_its_rebuild_is_pending(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db)
    job.run_once(now=NOW)
    with service_db.db.session() as session:
        catalog.update_meter_filters(session, service_db.principal, meter_id, EU_ONLY)
    assert _state(service_db, meter_id) == rebuilds.PENDING
    assert _aggregated(service_db, meter_id) == 31  # stale: still the unfiltered sums
    assert _usage(service_db, meter_id) == (Decimal(21), Decimal(21))

    job.run_once(now=NOW + timedelta(minutes=1))
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _aggregated(service_db, meter_id) == 21
    assert _usage(service_db, meter_id) == (Decimal(21), Decimal(21))


def _due(service_db: ServiceDb, now: datetime) -> list[tuple[str, int]]:
    with service_db.db.session(write=False) as session:
        return rebuilds.due(session.connection(), now, 10_000)


def _claim(service_db: ServiceDb, meter_id: str, token: str, now: datetime) -> bool:
    generation = dict(_due(service_db, now))[meter_id]
    with service_db.db.session() as session:
        return rebuilds.claim(session.connection(), meter_id, generation, token, now, LEASE)


def test_a_crashed_runners_lease_expires_and_another_runner_takes_it(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db)
    generation = dict(_due(service_db, NOW))[meter_id]
    # A runner claims the rebuild and dies before it commits anything more.
    assert _claim(service_db, meter_id, "dead-runner", NOW)
    assert _state(service_db, meter_id) == rebuilds.RUNNING
    assert _usage(service_db, meter_id) == (Decimal(31), Decimal(31))  # raw meanwhile

    # While its lease holds, nobody else takes it.
    job.run_once(now=NOW + LEASE - timedelta(seconds=1))
    assert _state(service_db, meter_id) == rebuilds.RUNNING
    assert _aggregated(service_db, meter_id) == 0

    job.run_once(now=NOW + LEASE + timedelta(seconds=1))
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _aggregated(service_db, meter_id) == 31
    # The dead runner, were it to come back, cannot mark anything: its claim is gone.
    with service_db.db.session() as session:
        assert not rebuilds.finish(session.connection(), meter_id, generation, "dead-runner", NOW)


def test_one_claim_wins_when_two_runners_race(service_db: ServiceDb) -> None:
    meter_id = _new_meter(service_db)
    generation = dict(_due(service_db, NOW))[meter_id]
    wins = []
    for token in ("runner-a", "runner-b"):
        with service_db.db.session() as session:
            wins.append(
                rebuilds.claim(session.connection(), meter_id, generation, token, NOW, LEASE)
            )
    assert wins == [True, False]


def test_a_rebuild_superseded_by_a_newer_request_is_rolled_back(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db)
    generation = dict(_due(service_db, NOW))[meter_id]
    assert _claim(service_db, meter_id, "slow-runner", NOW)
    # The filters change while that runner works with the meter as it was.
    with service_db.db.session() as session:
        catalog.update_meter_filters(
            session, service_db.principal, meter_id, (MeterFilter(key="region", values=("us",)),)
        )
    with service_db.db.session() as session:
        assert not rebuilds.finish(session.connection(), meter_id, generation, "slow-runner", NOW)
    assert _state(service_db, meter_id) == rebuilds.PENDING
    assert _usage(service_db, meter_id) == (Decimal(10), Decimal(10))
    job.run_once(now=NOW)
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _aggregated(service_db, meter_id) == 10


class _Broken:
    def rebuild_hourly(self, conn: Any, meter: Any) -> None:
        raise RuntimeError("disk on fire")


def test_a_failing_rebuild_is_retried_then_left_failed_and_read_raw(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db)
    job.store = _Broken()  # type: ignore[assignment]
    moment = NOW
    for attempt in range(1, rebuilds.MAX_ATTEMPTS + 1):
        report = job.run_once(now=moment)
        assert report.failed >= 1
        with service_db.db.session(write=False) as session:
            found = rebuilds.status(session, meter_id)
        assert found is not None and found.attempts == attempt
        assert found.error == "RuntimeError: disk on fire"
        expected = rebuilds.FAILED if attempt == rebuilds.MAX_ATTEMPTS else rebuilds.PENDING
        assert found.state == expected
        # Not tried again before the back-off has passed.
        assert meter_id not in dict(_due(service_db, moment))
        moment += job.retry_after + timedelta(seconds=1)
    assert meter_id not in dict(_due(service_db, moment))
    assert _usage(service_db, meter_id) == (Decimal(31), Decimal(31))
    # A new request (the filters change) starts again, and a working store finishes it.
    job.store = store_for_db(service_db)
    with service_db.db.session() as session:
        catalog.update_meter_filters(session, service_db.principal, meter_id, EU_ONLY)
    job.run_once(now=moment)
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _usage(service_db, meter_id) == (Decimal(21), Decimal(21))


def store_for_db(service_db: ServiceDb) -> Any:
    with service_db.db.session(write=False) as session:
        return store_for(session)


def test_a_stopping_job_claims_nothing_more(service_db: ServiceDb, job: MeterRebuildJob) -> None:
    meter_id = _new_meter(service_db)
    job.stopping.set()
    assert job.run_once(now=NOW).done == 0
    assert _state(service_db, meter_id) == rebuilds.PENDING


def _daily(service_db: ServiceDb, meter_id: str) -> dict[str, dict[int, Decimal]]:
    with service_db.db.session(write=False) as session:
        spec = meter_spec(catalog.get_meter(session, service_db.principal, meter_id))
        reader = usage_reader(session)
        return daily_usage_by_customer(reader, session.connection(), spec, T0, T0 + 2 * DAY_US)


def test_the_dashboard_reads_a_pending_meter_right(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    meter_id = _new_meter(service_db, filters=EU_ONLY)
    assert _state(service_db, meter_id) == rebuilds.PENDING
    pending = _daily(service_db, meter_id)
    assert pending == {"cust": {T0: Decimal(21)}}
    job.run_once(now=NOW)
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _daily(service_db, meter_id) == pending


def test_the_billing_batch_reads_a_pending_meter_right(
    service_db: ServiceDb, job: MeterRebuildJob
) -> None:
    """The clock asks for the rebuild state of a whole batch's meters once
    (``rebuilds.current_of``); a meter pending a rebuild is still read from raw events."""
    done = _new_meter(service_db)
    pending = _new_meter(service_db)
    job.run_once(now=NOW)
    with service_db.db.session() as session:
        catalog.update_meter_filters(session, service_db.principal, pending, EU_ONLY)
    assert _aggregated(service_db, pending) == 31  # stale: still the unfiltered sums
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    with service_db.db.session(write=False) as session:
        current = rebuilds.current_of(session.connection(), [done, pending, "no-such-meter"])
        assert current == {done, "no-such-meter"}
        usage = SessionUsage(session, current)
        meters = {m: catalog.get_meter(session, service_db.principal, m) for m in (done, pending)}
        assert usage.total(meters[done], "cust", start, end) == 31
        assert usage.total(meters[pending], "cust", start, end) == 21


def test_a_rebuild_longer_than_its_lease_keeps_its_claim(service_db: ServiceDb) -> None:
    """The running rebuild renews its lease from another connection, so a second runner
    does not take over a rebuild that is alive, however long it runs (PostgreSQL: on
    SQLite no other runner can write while the rebuild's transaction is open)."""
    if service_db.db.dialect == "sqlite":
        pytest.skip("one writer at a time: the claim cannot be taken meanwhile")
    events = Settings(database_url=service_db.db.url).events
    lease = timedelta(seconds=0.6)
    slow = MeterRebuildJob(service_db.db, events, lease=lease)
    other = MeterRebuildJob(service_db.db, events, lease=lease)
    meter_id = _new_meter(service_db)
    rebuild = slow.store.rebuild_hourly

    def slow_rebuild(conn: Any, spec: Any) -> Any:
        if spec.id == meter_id:  # (other meters of this database's earlier tests: at once)
            time.sleep(1.8)  # three leases long
        return rebuild(conn, spec)

    slow.store.rebuild_hourly = slow_rebuild  # type: ignore[method-assign]
    reports: list[Any] = []
    runner = threading.Thread(target=lambda: reports.append(slow.run_once(now=NOW)))
    runner.start()
    time.sleep(1.2)  # two leases after the claim
    assert _state(service_db, meter_id) == rebuilds.RUNNING
    taken = other.run_once(now=NOW + timedelta(seconds=1.2))
    runner.join()
    assert taken.done == 0
    assert reports[0].done >= 1 and reports[0].lost == 0
    assert _state(service_db, meter_id) == rebuilds.DONE
    assert _aggregated(service_db, meter_id) == 31
