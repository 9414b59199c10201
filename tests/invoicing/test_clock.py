"""The billing clock against a real server and database: periods closed once, exactly one
invoice per (subscription, period) however often it runs, and after SIGKILLs mid-run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Server, Tenant, unique

# Five months back (a subscription may start at most a year back): months M1..M4, with
# three monthly periods ended at NOW: M1-15, M2-15, M3-15.
_THIS = datetime.now(UTC).year * 12 + datetime.now(UTC).month - 1
_M = [f"{y:04d}-{m + 1:02d}" for y, m in (divmod(_THIS - back, 12) for back in (5, 4, 3, 2))]
START = f"{_M[0]}-15T00:00:00Z"
NOW = f"{_M[3]}-20T00:00:00Z"


def bill(server: Server, now: str = NOW) -> subprocess.Popen[bytes]:
    if server.event_store == "clickhouse":
        # The CLI clock is a second process; chdb (the test ClickHouse) admits only one.
        pytest.skip("the CLI clock cannot share the in-process chdb store with the server")
    env = {**os.environ, "METERLINE_DATABASE_URL": server.database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "meterline", "bill", "--now", now],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def bill_to_end(server: Server, now: str = NOW) -> dict[str, Any]:
    import json

    process = bill(server, now)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


def plan_with_fee(http: httpx.Client, event_name: str) -> tuple[str, str]:
    feature = http.post(
        "/v1/features",
        json={
            "name": "Calls",
            "type": "metered",
            "lookup_key": unique("calls"),
            "meter": {
                "name": "calls",
                "event_name": event_name,
                "aggregation": {"type": "COUNT"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    plan = http.post("/v1/plans", json={"name": "Clocked", "lookup_key": unique("p")}).json()
    common = {"entity_type": "PLAN", "entity_id": plan["id"], "price_unit_type": "FIAT"}
    common |= {"currency": "usd", "billing_period": "MONTHLY", "billing_period_count": 1}
    for price in (
        {
            "type": "FIXED",
            "billing_model": "FLAT_FEE",
            "amount": "10",
            "invoice_cadence": "ADVANCE",
        },
        {
            "type": "USAGE",
            "billing_model": "FLAT_FEE",
            "amount": "0.5",
            "meter_id": feature["meter_id"],
            "invoice_cadence": "ARREAR",
        },
    ):
        response = http.post("/v1/prices", json={**common, **price})
        assert response.status_code == 201, response.text
    return plan["id"], feature["meter_id"]


def subscribe(http: httpx.Client, plan_id: str, count: int) -> list[tuple[str, str]]:
    return subscribe_at(http, plan_id, count, START)


def subscribe_at(http: httpx.Client, plan_id: str, count: int, start: str) -> list[tuple[str, str]]:
    subs = []
    for _ in range(count):
        customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()
        sub = http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": start,
            },
        )
        assert sub.status_code == 201, sub.text
        subs.append((sub.json()["id"], customer["external_id"]))
    return subs


def cycle_invoices(http: httpx.Client, subscription_id: str) -> list[dict[str, Any]]:
    found = http.post(
        "/v1/invoices/search",
        json={"subscription_id": subscription_id, "billing_reason": "SUBSCRIPTION_CYCLE"},
    ).json()["items"]
    # The server's own clock (real time) may bill later periods meanwhile: look at ours.
    ours = [i for i in found if i["period_start"] < f"{_M[3]}-01"]
    return sorted(ours, key=lambda i: i["period_start"])


def test_clock_closes_each_period_once_and_rerunning_changes_nothing(
    tenant: Tenant, http: httpx.Client
) -> None:
    event_name = unique("call")
    plan_id, _meter = plan_with_fee(http, event_name)
    [(sub_id, external_id)] = subscribe(http, plan_id, 1)
    # 3 calls in the first period, 1 in the second, 0 in the third
    events = [(f"{_M[0]}-20T00:00:00Z", 3), (f"{_M[1]}-20T00:00:00Z", 1)]
    for stamp, n in events:
        for _ in range(n):
            http.post(
                "/v1/events",
                json={
                    "event_name": event_name,
                    "external_customer_id": external_id,
                    "timestamp": stamp,
                },
            )
    first = bill_to_end(tenant.server)
    assert first["periods_closed"] >= 3
    invoices = cycle_invoices(http, sub_id)
    assert [(i["period_start"][:10], i["subtotal"]) for i in invoices] == [
        (f"{_M[0]}-15", "11.5"),  # 3 × 0.5 + next period's fee 10
        (f"{_M[1]}-15", "10.5"),
        (f"{_M[2]}-15", "10"),
    ]
    # past the grace period, drafts were finalized and numbered
    assert all(i["invoice_status"] == "FINALIZED" for i in invoices)
    assert all(i["invoice_number"].startswith("INV-") for i in invoices)
    before = [(i["id"], i["total"], i["invoice_number"]) for i in invoices]
    bill_to_end(tenant.server)
    bill_to_end(tenant.server)
    after = [(i["id"], i["total"], i["invoice_number"]) for i in cycle_invoices(http, sub_id)]
    assert after == before


def _periods_per_subscription(database_url: str, subscription_ids: set[str]) -> Counter[Any]:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT subscription_id, period_start FROM invoices "
                    "WHERE billing_reason = 'SUBSCRIPTION_CYCLE'"
                )
            ).all()
    finally:
        engine.dispose()
    cutoff = datetime.fromisoformat(f"{_M[3]}-01")  # periods that ended by NOW
    return Counter(
        (s, str(p))
        for s, p in rows
        if s in subscription_ids and datetime.fromisoformat(str(p)).replace(tzinfo=None) < cutoff
    )


@pytest.mark.parametrize("subscriptions", [int(os.environ.get("METERLINE_TEST_CRASH_SUBS", "150"))])
def test_clock_killed_at_random_points_bills_each_period_exactly_once(
    tenant: Tenant, http: httpx.Client, subscriptions: int
) -> None:
    if tenant.server.event_store == "clickhouse":
        # Its catalog is SQLite and these periods bill a fixed fee, reading no events.
        pytest.skip("the same as the SQLite run: a fee-only plan reads no events")
    plan_id, _meter = plan_with_fee(http, unique("call"))
    subs = {s for s, _ in subscribe(http, plan_id, subscriptions)}
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        process = bill(tenant.server)
        time.sleep(rng.uniform(0.3, 2.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    # two clocks at once, then a clean run
    racing = [bill(tenant.server), bill(tenant.server)]
    for process in racing:
        process.wait(timeout=600)
    bill_to_end(tenant.server)
    counts = _periods_per_subscription(tenant.server.database_url, subs)
    assert kills >= 1
    billed = Counter(s for s, _p in counts)
    short = {s: billed.get(s, 0) for s in subs if billed.get(s, 0) != 3}
    # every period of every subscription billed…
    assert not short, f"{len(short)} subscriptions not fully billed, e.g. {list(short.items())[:3]}"
    assert set(counts.values()) == {1}  # …exactly once
