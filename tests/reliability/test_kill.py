"""SIGKILL harness: the real ``meterline serve``, several clients ingesting events and
reporting Kaiten usage, killed at random moments and restarted on the same port.

After the last restart:

* every acknowledged event (202) and report (200) is present exactly once;
* a batch that was never acknowledged is all there or not there at all (one transaction),
  and an unacknowledged report is there at most once;
* usage equals what the present events say — the meter's usage (served from the hourly
  aggregates) equals the sum over the raw events, and the Kaiten counter equals the sum of
  its accepted ledger rows.

Clients behave like real ones: after a failed request they resend the same batch (same
event ids, same transaction id) half of the time, and give up on it otherwise, so both
deduplication across restarts and all-or-nothing on abandoned work are exercised.

CI runs ``METERLINE_TEST_KILLS`` kills (default 5) per database; the figures in
docs/reliability.md come from a long run, e.g. ``METERLINE_TEST_KILLS=200``. The billing
clock's kill test is tests/invoicing/test_clock.py (one invoice per subscription and period).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import (
    BOOTSTRAP_KEY,
    POSTGRES_URL,
    Server,
    _postgres_database,
    free_port,
    new_tenant,
)

KILLS = int(os.environ.get("METERLINE_TEST_KILLS", "3"))
EVENT_CLIENTS = 3
REPORT_CLIENTS = 2
BATCH = 20
DAY = "2026-02-03"
RESULTS = os.environ.get("METERLINE_TEST_KILL_RESULTS")  # a JSON-lines file for the docs


class Node:
    """One ``meterline serve`` on a fixed port that can be SIGKILLed and started again."""

    def __init__(
        self, database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.database_url = database_url
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"serve-{self.starts}.log", "wb")  # noqa: SIM115
        env = {
            **os.environ,
            "METERLINE_DATABASE_URL": self.database_url,
            "METERLINE_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
            "METERLINE_BILLING_INTERVAL_SECONDS": "0",
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meterline", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.log_dir / f"serve-{self.starts}.log").read_text())
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Ledger:
    """What the clients know: acknowledged and abandoned work."""

    acked_events: dict[str, int] = field(default_factory=dict)  # event id -> n
    abandoned_batches: list[dict[str, int]] = field(default_factory=list)
    acked_reports: dict[str, int] = field(default_factory=dict)  # transaction id -> value
    abandoned_reports: dict[str, int] = field(default_factory=dict)
    resent: int = 0
    unexpected: list[str] = field(default_factory=list)  # answers other than ack or no answer
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    if request.param == "postgres":
        databases = _postgres_database(tmp_path)
        url = next(databases)
    else:
        databases = None
        url = f"sqlite:///{tmp_path / 'kill.db'}"
    server = Node(url, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if databases is not None:
            for _ in databases:
                pass


def _setup(node: Node) -> tuple[str, str, str]:
    """A tenant with a SUM meter and an unlimited Kaiten counter: (key, env id, meter id)."""
    assert node.process is not None
    tenant = new_tenant(
        Server(node.base_url, node.database_url, BOOTSTRAP_KEY, node.process, node.log_dir)
    )
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with httpx.Client(base_url=node.base_url, headers=headers, timeout=30) as http:
        meter = http.post(
            "/v1/meters",
            json={
                "name": "Work",
                "event_name": "work",
                "aggregation": {"type": "SUM", "field": "n"},
            },
        )
        assert meter.status_code in (200, 201), meter.text
        steps = [
            (
                "/api/entitlements",
                {"name": "Jobs", "slug": "jobs", "type": "NUMBER", "description": "j"},
            ),
            ("/api/licenses", {"name": "Open", "slug": "open", "type": "PAID"}),
            (
                "/api/licenses/open/entitlements",
                {"entitlementSlug": "jobs", "value": {"type": "number", "value": -1}},
            ),
            ("/api/customers", {"name": "Acme", "slug": "acme"}),
        ]
        for path, body in steps:
            response = http.post(path, json=body)
            assert response.status_code in (200, 201, 204), response.text
        customer = http.get("/api/customers/acme").json()
        license_ = http.get("/api/licenses/open").json()
        instance = http.post(
            "/api/instances",
            json={
                "name": "Acme prod",
                "slug": "acme-prod",
                "customerId": customer["id"],
                "licenseId": license_["id"],
                "startLicenseDate": "2026-01-01T00:00:00Z",
                "endLicenseDate": "2030-01-01T00:00:00Z",
            },
        )
        assert instance.status_code == 201, instance.text
    return tenant.key, tenant.environment_id, str(meter.json()["id"])


def _event_client(node: Node, key: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = httpx.Client(headers={"x-api-key": key}, timeout=10)
    pending: dict[str, int] | None = None
    while not stop.is_set():
        if pending is None:
            pending = {uuid.uuid4().hex: rng.randint(1, 9) for _ in range(BATCH)}
        events = [
            {
                "event_id": event_id,
                "event_name": "work",
                "external_customer_id": "acme",
                "timestamp": f"{DAY}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
                "properties": {"n": n},
            }
            for event_id, n in pending.items()
        ]
        try:
            response = client.post(node.base_url + "/v1/events/bulk", json={"events": events})
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 202:
            with ledger.lock:
                ledger.acked_events.update(pending)
            pending = None
            continue
        if response is not None:
            with ledger.lock:
                ledger.unexpected.append(f"{response.status_code} {response.text[:200]}")
        if rng.random() < 0.5:
            with ledger.lock:
                ledger.abandoned_batches.append(pending)
            pending = None
        else:
            with ledger.lock:
                ledger.resent += 1
        time.sleep(0.05)  # the server is down: wait for the restart
    if pending is not None:
        with ledger.lock:
            ledger.abandoned_batches.append(pending)
    client.close()


REPORT_PATH = "/api/instances/acme-prod/entitlements/jobs/usage"


def _report_client(node: Node, key: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10)
    pending: tuple[str, int] | None = None
    while not stop.is_set():
        if pending is None:
            pending = (uuid.uuid4().hex, rng.randint(1, 9))
        transaction_id, value = pending
        body = {
            "value": {"type": "number", "value": value},
            "behavior": "append",
            "transactionId": transaction_id,
        }
        try:
            response = client.post(node.base_url + REPORT_PATH, json=body)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            with ledger.lock:
                ledger.acked_reports[transaction_id] = value
            pending = None
            continue
        if response is not None:
            with ledger.lock:
                ledger.unexpected.append(f"{response.status_code} {response.text[:200]}")
        if rng.random() < 0.5:
            with ledger.lock:
                ledger.abandoned_reports[transaction_id] = value
            pending = None
        else:
            with ledger.lock:
                ledger.resent += 1
        time.sleep(0.05)
    if pending is not None:
        with ledger.lock:
            ledger.abandoned_reports[pending[0]] = pending[1]
    client.close()


def _rows(
    database_url: str, env_id: str
) -> tuple[dict[str, list[int]], dict[str, list[Decimal]], Decimal]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            events: dict[str, list[int]] = {}
            for event_id, properties in conn.execute(
                text("SELECT event_id, properties FROM events WHERE environment_id = :env"),
                {"env": env_id},
            ):
                events.setdefault(event_id, []).append(int(json.loads(properties)["n"]))
            reports: dict[str, list[Decimal]] = {}
            for transaction_id, value, status in conn.execute(
                text(
                    "SELECT transaction_id, reported_value, status FROM usage_reports "
                    "WHERE environment_id = :env"
                ),
                {"env": env_id},
            ):
                assert status == "ACCEPTED"
                reports.setdefault(transaction_id, []).append(Decimal(str(value)))
            counter = conn.execute(
                text("SELECT value FROM usage_counters WHERE environment_id = :env"),
                {"env": env_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return events, reports, Decimal(str(counter))


@pytest.mark.slow
def test_acknowledged_work_survives_sigkill_exactly_once(node: Node) -> None:
    key, env_id, meter_id = _setup(node)
    ledger = Ledger()
    stop = threading.Event()
    clients = [
        threading.Thread(target=_event_client, args=(node, key, ledger, stop, i), daemon=True)
        for i in range(EVENT_CLIENTS)
    ] + [
        threading.Thread(
            target=_report_client, args=(node, key, ledger, stop, 100 + i), daemon=True
        )
        for i in range(REPORT_CLIENTS)
    ]
    for client in clients:
        client.start()
    rng = random.Random(KILLS)
    started = time.monotonic()
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.1, 0.8))  # a random moment of the load
        node.kill()
        node.start()
    time.sleep(0.3)
    stop.set()
    for client in clients:
        client.join(timeout=30)
    node.kill()  # one more: the checks read what survived a kill
    node.start()

    assert ledger.unexpected == []
    events, reports, counter = _rows(node.database_url, env_id)

    # Events: acknowledged ones exactly once; abandoned batches all or nothing.
    lost = [e for e in ledger.acked_events if e not in events]
    duplicated = [e for e, copies in events.items() if len(copies) != 1]
    assert lost == [] and duplicated == []
    assert all(events[e] == [n] for e, n in ledger.acked_events.items())
    present_abandoned = 0
    expected_sum = sum(ledger.acked_events.values())
    for batch in ledger.abandoned_batches:
        found = [e in events for e in batch]
        assert all(found) or not any(found), "half a batch was applied"
        if all(found):
            present_abandoned += 1
            expected_sum += sum(batch.values())
    known = set(ledger.acked_events).union(*ledger.abandoned_batches)
    assert set(events) <= known
    assert sum(n for copies in events.values() for n in copies) == expected_sum

    # Usage from the hourly aggregates equals the raw events.
    with httpx.Client(base_url=node.base_url, headers={"x-api-key": key}, timeout=30) as http:
        usage = http.post(
            "/v1/events/usage/meter",
            json={
                "meter_id": meter_id,
                "external_customer_id": "acme",
                "start_time": f"{DAY}T00:00:00Z",
                "end_time": "2026-02-04T00:00:00Z",
            },
        )
        assert usage.status_code == 200, usage.text
        assert Decimal(str(usage.json()["value"])) == expected_sum
        reported = http.get(REPORT_PATH, headers={"Authorization": f"Bearer {key}"})
        assert reported.status_code == 200, reported.text

    # Reports: acknowledged ones exactly once, abandoned ones at most once.
    assert all(len(copies) == 1 for copies in reports.values())
    lost_reports = [t for t in ledger.acked_reports if t not in reports]
    assert lost_reports == []
    assert set(reports) <= set(ledger.acked_reports) | set(ledger.abandoned_reports)
    expected_counter = sum(v for copies in reports.values() for v in copies)
    assert counter == expected_counter
    assert Decimal(str(reported.json()["value"]["value"])) == expected_counter
    assert expected_counter >= sum(ledger.acked_reports.values())

    figures = {
        "database": node.database_url.split(":", 1)[0],
        "kills": KILLS + 1,
        "seconds": round(time.monotonic() - started, 1),
        "events_acknowledged": len(ledger.acked_events),
        "events_lost": len(lost),
        "events_duplicated": len(duplicated),
        "batches_abandoned": len(ledger.abandoned_batches),
        "abandoned_batches_present_whole": present_abandoned,
        "half_applied_batches": 0,
        "reports_acknowledged": len(ledger.acked_reports),
        "reports_lost": len(lost_reports),
        "reports_duplicated": 0,
        "reports_abandoned": len(ledger.abandoned_reports),
        "requests_resent_after_a_kill": ledger.resent,
    }
    print(json.dumps(figures))
    if RESULTS:
        with open(RESULTS, "a") as out:
            out.write(json.dumps(figures) + "\n")
    # The load really ran across the kills (a harness that acknowledged nothing proves nothing).
    assert len(ledger.acked_events) >= BATCH and len(ledger.acked_reports) >= 1
