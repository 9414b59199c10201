"""`meterline serve --workers N` on PostgreSQL: several workers starting at once on a fresh
database, and several workers ingesting the same events at once.

Start-up must be idempotent under concurrency (every worker ensures the bootstrap key);
ingest must neither deadlock into a 500 nor reset a connection: rows are inserted in the
unique index's key order, and a deadlocked batch is retried by the writer.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from meterline.accounts import service as accounts
from meterline.db.engine import Database
from meterline.settings import Settings
from tests.conftest import (
    BOOTSTRAP_KEY,
    POSTGRES_URL,
    Server,
    _postgres_database,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs METERLINE_TEST_POSTGRES_URL")

EVENTS = 3000
BATCH = 50
CLIENTS = 8
STARTS = 5


def _count(url: str, sql: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _together(work: Any, count: int) -> list[BaseException | None]:
    """Run ``work()`` on ``count`` threads released at once; each one's exception or None."""
    barrier = threading.Barrier(count)

    def run(_: int) -> BaseException | None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # reported by the test
            return exc
        return None

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_start_up_is_idempotent_under_concurrency(tmp_path: Path) -> None:
    # What every worker of `serve --workers N` (or several hosts) does on start, at once:
    # migrate, then ensure the bootstrap key (and with it the default organization).
    database = _postgres_database(tmp_path)
    url = next(database)
    settings = Settings(database_url=url)
    try:
        # Migrations in processes of their own (Alembic's context is per process).
        migrate = [sys.executable, "-m", "meterline", "migrate"]
        env = {**os.environ, "METERLINE_DATABASE_URL": url}
        runs: list[subprocess.CompletedProcess[bytes]] = []
        assert (
            _together(lambda: runs.append(subprocess.run(migrate, env=env, capture_output=True)), 3)
            == [None] * 3
        )
        failed = [run.stderr[-2000:] for run in runs if run.returncode != 0]
        assert not failed, failed[0]

        def bootstrap() -> None:
            db = Database.connect(settings)
            try:
                with db.session() as session:
                    accounts.ensure_bootstrap_key(session, BOOTSTRAP_KEY)
            finally:
                db.dispose()

        for _ in range(STARTS):  # each round on accounts as a fresh database has them
            for table in ("api_keys", "users", "environments", "organizations"):
                _count(url, f"WITH gone AS (DELETE FROM {table} RETURNING 1) SELECT 0")
            assert _together(bootstrap, 4) == [None] * 4
            assert _count(url, "SELECT COUNT(*) FROM api_keys") == 1
            assert _count(url, "SELECT COUNT(*) FROM organizations WHERE is_default") == 1
    finally:
        for _ in database:
            pass


@pytest.fixture(scope="module")
def four_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("four-workers")
    database = _postgres_database(root)
    url = next(database)
    # Four workers starting at once on a fresh database: the start-up race end to end.
    server = start_server(url, root, extra_args=["--workers", "4"], start_seconds=240)
    try:
        yield server
    finally:
        stop_server(server)
        for _ in database:
            pass


def _event(i: int) -> dict[str, Any]:
    return {
        "event_name": "race_call",
        "external_customer_id": f"race-c{i % 7}",
        "event_id": f"race-{i}",
        "timestamp": f"2026-03-0{1 + i % 5}T{i % 24:02d}:00:00Z",
        "properties": {"tokens": f"{i % 11}.5"},
    }


def test_four_workers_ingest_the_same_events_without_deadlocking(four_workers: Server) -> None:
    server = four_workers
    with server.client(server.bootstrap_key) as admin:
        meter = admin.post(
            "/v1/meters",
            json={
                "name": "race tokens",
                "event_name": "race_call",
                "aggregation": {"type": "SUM", "field": "tokens"},
                "reset_usage": "BILLING_PERIOD",
            },
        )
        assert meter.status_code == 201, meter.text
    events = [_event(i) for i in range(EVENTS)]
    # Every event twice: once in order, once shuffled, the batches interleaved so that
    # copies of one event race each other through different workers.
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    first = [events[i : i + BATCH] for i in range(0, EVENTS, BATCH)]
    second = [shuffled[i : i + BATCH] for i in range(0, EVENTS, BATCH)]
    batches = [batch for pair in zip(first, second, strict=True) for batch in pair]
    lanes = [batches[lane::CLIENTS] for lane in range(CLIENTS)]

    def send(lane: list[list[dict[str, Any]]]) -> list[str]:
        problems: list[str] = []
        # One keep-alive connection per client: a reset shows up as a transport error.
        with server.client(server.bootstrap_key) as client:
            for batch in lane:
                try:
                    response = client.post("/v1/events/bulk", json={"events": batch})
                except httpx.TransportError as exc:
                    problems.append(f"connection: {exc!r}")
                    continue
                if response.status_code != 202:
                    problems.append(f"{response.status_code}: {response.text}")
        return problems

    with ThreadPoolExecutor(CLIENTS) as pool:
        problems = [p for lane_problems in pool.map(send, lanes) for p in lane_problems]
    assert not problems, problems[:3]
    assert _count(server.database_url, "SELECT COUNT(*) FROM events") == EVENTS
    total = _count(
        server.database_url,
        "SELECT SUM(sum_value)::bigint FROM usage_hourly",  # x.5 values: twice is exact
    )
    assert total == int(sum(float(e["properties"]["tokens"]) for e in events))
