"""The group-commit writers under failure, on the test server's own database (SQLite, and
PostgreSQL when configured): a request whose event loop closed, a request the database
refuses amid other tenants' requests, a deadlocked batch, and a writer that has stopped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from meterline.app import create_app
from meterline.db.engine import Database
from meterline.metering.ingest import EventRow, now_micros
from meterline.metering.writer import IngestResult, IngestWriter
from meterline.settings import Settings
from tests.api.kaiten.conftest import granted_instance
from tests.conftest import BOOTSTRAP_KEY, Tenant, new_tenant, serve_in_process, unique


@pytest.fixture
def sql_tenant(tenant: Tenant) -> Tenant:
    if tenant.server.event_store != "sql":
        pytest.skip("drives the SQL event store in-process")
    return tenant


@pytest.fixture
def db(sql_tenant: Tenant) -> Iterator[Database]:
    database = Database.connect(Settings(database_url=sql_tenant.server.database_url))
    yield database
    database.dispose()


def _row(environment_id: str, event_name: Any = "writer_call") -> EventRow:
    return EventRow(
        environment_id=environment_id,
        event_id=unique("ev"),
        event_name=event_name,
        external_customer_id="c1",
        customer_id=None,
        timestamp=now_micros(),
        source=None,
        properties={},
        properties_json="{}",
    )


def _stored(db: Database, environment_id: str) -> int:
    with db.read_engine.connect() as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM events WHERE environment_id = :env"),
            {"env": environment_id},
        ).scalar_one()
    return int(count)


def _in_thread(call: Any, timeout: float = 10) -> list[Any]:
    """``call()`` on a thread; its outcome, or an empty list if it did not return in time."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome


def _queue_before_start(writer: IngestWriter, requests: Sequence[Sequence[EventRow]]) -> Any:
    """Submit ``requests`` before the writer runs, so its first batch holds all of them;
    returns the loop and the tasks waiting for their answers."""
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(writer.submit(rows)) for rows in requests]
    loop.run_until_complete(asyncio.sleep(0))  # every submit is queued and waiting
    return loop, tasks


def test_a_request_whose_loop_closed_does_not_kill_the_ingest_writer(
    sql_tenant: Tenant, db: Database
) -> None:
    writer = IngestWriter(db, Settings(database_url=sql_tenant.server.database_url))
    loop, tasks = _queue_before_start(writer, [[_row(sql_tenant.environment_id)]])
    tasks[0].cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()  # the request's loop is gone before the writer answers it
    writer.start()
    try:
        later = _in_thread(lambda: writer.submit_sync([_row(sql_tenant.environment_id)]))
        assert later == [IngestResult(accepted=1, new=1, duplicates=0)], "the writer hung"
        assert writer.alive
    finally:
        writer.stop()
    assert _stored(db, sql_tenant.environment_id) == 2


def test_a_refused_request_fails_alone_in_its_batch(sql_tenant: Tenant, db: Database) -> None:
    # A row the database refuses (event_name NOT NULL) stands for any value validation
    # missed; it shares one batch with two requests of another tenant.
    other = new_tenant(sql_tenant.server)
    writer = IngestWriter(db, Settings(database_url=sql_tenant.server.database_url))
    good = [[_row(other.environment_id) for _ in range(3)], [_row(other.environment_id)]]
    poison = [_row(sql_tenant.environment_id), _row(sql_tenant.environment_id, None)]
    loop, tasks = _queue_before_start(writer, [good[0], poison, good[1]])
    writer.start()
    try:
        results = loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    finally:
        writer.stop()
        loop.close()
    assert results[0] == IngestResult(accepted=3, new=3, duplicates=0)
    assert results[2] == IngestResult(accepted=1, new=1, duplicates=0)
    refused = results[1]
    assert isinstance(refused, Exception) and getattr(refused, "status", None) == 400
    assert refused.details == {"field": "events[1]"}  # type: ignore[attr-defined]
    assert writer.batches == 1
    assert _stored(db, other.environment_id) == 4
    assert _stored(db, sql_tenant.environment_id) == 0  # nothing of the refused request


@contextmanager
def _in_process_server(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The real app on a real port, in this process (so a test can reach its writers)."""
    monkeypatch.setenv("METERLINE_BILLING_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("METERLINE_WEBHOOK_WORKER", "false")
    app = create_app(Settings(database_url=database_url, bootstrap_key=BOOTSTRAP_KEY))
    with serve_in_process(app) as port:
        yield app, f"http://127.0.0.1:{port}"


def _ingest(client: httpx.Client, tenant: Tenant) -> httpx.Response:
    events = [{"event_name": "x", "external_customer_id": "c"}]
    return client.post("/v1/events/bulk", json={"events": events})


def _report(client: httpx.Client, tenant: Tenant) -> httpx.Response:
    api = httpx.Client(
        base_url=str(client.base_url) + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=client.timeout,
    )
    with api:
        instance, entitlement = granted_instance(api, 100)
        return api.post(
            f"/instances/{instance}/entitlements/{entitlement}/usage",
            json={"value": {"type": "number", "value": 1}},
        )


@pytest.mark.parametrize(
    ("attribute", "name", "send"),
    [("writer", "ingest_writer", _ingest), ("report_writer", "report_writer", _report)],
    ids=["ingest", "kaiten-report"],
)
def test_a_stopped_writer_shows_in_health_and_its_requests_answer_503(
    sql_tenant: Tenant, monkeypatch: pytest.MonkeyPatch, attribute: str, name: str, send: Any
) -> None:
    with (
        _in_process_server(sql_tenant.server.database_url, monkeypatch) as (app, base_url),
        httpx.Client(base_url=base_url, headers={"x-api-key": sql_tenant.key}) as client,
    ):
        healthy = client.get("/health")
        assert healthy.status_code == 200
        getattr(app.state, attribute).stop()
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert health.json()[name] == "stopped"
        client.timeout = httpx.Timeout(10)
        try:
            response = send(client, sql_tenant)
        except httpx.TimeoutException:
            pytest.fail("a request hung on a stopped writer")
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        if name == "ingest_writer":
            assert response.json()["code"] == "service_unavailable"
            assert response.json()["http_status_code"] == 503
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == 503
