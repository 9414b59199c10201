"""Four `meterline serve` processes on one PostgreSQL database, written to concurrently.

Every process has its own group-commit writer; what keeps ingestion exact across them is
the database: the unique index on (environment, event_id) with ON CONFLICT DO NOTHING, and
hourly aggregates folded with row-level upserts in one key order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_URL, Server, _postgres_database, start_server, stop_server

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs METERLINE_TEST_POSTGRES_URL")

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PROCESSES = 4
CUSTOMERS = 5
EVENTS = 600  # distinct events; each is sent twice, through different processes


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    root = tmp_path_factory.mktemp("multiprocess")
    database = _postgres_database(root)
    url = next(database)
    started: list[Server] = []
    try:
        # The first one migrates; the others find the schema in place.
        started.append(start_server(url, root))
        for _ in range(PROCESSES - 1):
            started.append(start_server(url, root))
        yield started
    finally:
        for server in started:
            stop_server(server)
        for _ in database:
            pass


def _event(i: int) -> dict[str, Any]:
    moment = T0 + timedelta(minutes=7 * i)
    return {
        "event_name": "mp_call",
        "external_customer_id": f"mp-c{i % CUSTOMERS}",
        "event_id": f"mp-{i}",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        # A value with a fraction, so sums are exact decimals, not counts.
        "properties": {"tokens": f"{i % 13}.25", "region": "eu" if i % 3 == 0 else "us"},
    }


def _post(base_url: str, key: str, events: list[dict[str, Any]]) -> dict[str, str]:
    with httpx.Client(base_url=base_url, headers={"x-api-key": key}, timeout=60) as client:
        response = client.post("/v1/events/bulk", json={"events": events})
    assert response.status_code == 202, response.text
    return dict(response.json())


def _usage(server: Server, key: str, meter_id: str, customer: str | None) -> Decimal:
    body: dict[str, Any] = {
        "meter_id": meter_id,
        "start_time": "2026-03-01T00:00:00Z",
        "end_time": "2026-03-10T00:00:00Z",
    }
    if customer:
        body["external_customer_id"] = customer
    with server.client(key) as client:
        response = client.post("/v1/events/usage/meter", json=body)
    assert response.status_code == 200, response.text
    return Decimal(str(json.loads(response.text, parse_float=Decimal)["value"]))


def test_four_processes_ingest_the_same_events_exactly_once(
    servers: list[Server], tmp_path: Path
) -> None:
    first = servers[0]
    with first.client(first.bootstrap_key) as admin:
        env = admin.post("/v1/environments", json={"name": "mp", "type": "development"})
        assert env.status_code == 201, env.text
        key_response = admin.post(
            "/v1/secrets/api/keys", json={"name": "mp", "environment_id": env.json()["id"]}
        )
        assert key_response.status_code == 201, key_response.text
    key = key_response.json()["api_key"]
    with first.client(key) as http:
        sums = http.post(
            "/v1/meters",
            json={
                "name": "tokens",
                "event_name": "mp_call",
                "aggregation": {"type": "SUM", "field": "tokens"},
                "reset_usage": "BILLING_PERIOD",
            },
        )
        assert sums.status_code == 201, sums.text
        eu_count = http.post(
            "/v1/meters",
            json={
                "name": "eu calls",
                "event_name": "mp_call",
                "aggregation": {"type": "COUNT"},
                "filters": [{"key": "region", "values": ["eu"]}],
                "reset_usage": "BILLING_PERIOD",
            },
        )
        assert eu_count.status_code == 201, eu_count.text
    events = [_event(i) for i in range(EVENTS)]
    # Every event goes out twice, in batches of 50 that overlap differently, each batch to a
    # different process, all at once: the copies race each other across processes.
    jobs: list[tuple[str, list[dict[str, Any]]]] = []
    for copy in range(2):
        shifted = events[copy * 25 :] + events[: copy * 25]
        for n, start in enumerate(range(0, EVENTS, 50)):
            server = servers[(n + copy) % PROCESSES]
            jobs.append((server.base_url, shifted[start : start + 50]))

    def create_count_meter() -> str:
        # Created through another process while the batches are being written: the
        # advisory lock orders it against every ingest batch, so it counts every event.
        with servers[-1].client(key) as http:
            response = http.post(
                "/v1/meters",
                json={
                    "name": "calls",
                    "event_name": "mp_call",
                    "aggregation": {"type": "COUNT"},
                    "reset_usage": "BILLING_PERIOD",
                },
            )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        posted = [pool.submit(_post, base_url, key, batch) for base_url, batch in jobs]
        late_meter = pool.submit(create_count_meter)
        results = [future.result() for future in posted]
        count_id = late_meter.result()

    assert sum(int(r["accepted"]) for r in results) == 2 * EVENTS
    assert sum(int(r["new"]) for r in results) == EVENTS
    assert sum(int(r["duplicates"]) for r in results) == EVENTS

    expected_tokens: dict[str, Decimal] = {}
    for i in range(EVENTS):
        customer = f"mp-c{i % CUSTOMERS}"
        expected_tokens[customer] = expected_tokens.get(customer, Decimal(0)) + Decimal(
            f"{i % 13}.25"
        )
    expected_eu = sum(1 for i in range(EVENTS) if i % 3 == 0)
    meter_id, eu_id = sums.json()["id"], eu_count.json()["id"]
    # Every process reads the same, exact answer.
    for server in servers:
        for customer, tokens in expected_tokens.items():
            assert _usage(server, key, meter_id, customer) == tokens
        assert _usage(server, key, meter_id, None) == sum(expected_tokens.values())
        assert _usage(server, key, eu_id, None) == expected_eu
        assert _usage(server, key, count_id, None) == EVENTS
        with server.client(key) as client:
            listed = client.get("/v1/events", params={"event_name": "mp_call", "page_size": 1})
        assert listed.json()["total_count"] == EVENTS
