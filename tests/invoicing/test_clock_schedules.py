"""The billing clock SIGKILLed while it applies plan changes scheduled at the period's end:
each change is applied exactly once, with exactly one period-end invoice, however the runs
are cut short (``subscriptions/schedule_runs.py``).

The clock bills one period ahead of real time (``meterline bill --now … --yes``), so these
subscriptions live in a database of their own: the session's shared one holds other tests'
subscriptions, whose periods must not be closed. ``METERLINE_TEST_SCHEDULE_SUBS`` sets the
size (default 30, half of them with a scheduled change).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import (
    POSTGRES_URL,
    Server,
    _postgres_database,
    new_tenant,
    start_server,
    stop_server,
    unique,
)

SUBSCRIPTIONS = int(os.environ.get("METERLINE_TEST_SCHEDULE_SUBS", "30"))
# Past the first period's end (at most 31 days after the start), before the second's.
NOW = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)


@pytest.fixture(params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    databases = None
    if request.param == "postgres":
        databases = _postgres_database(tmp_path)
        url = next(databases)
    else:
        url = f"sqlite:///{tmp_path / 'schedules.db'}"
    server = start_server(url, tmp_path, start_seconds=240)
    try:
        yield server
    finally:
        stop_server(server)
        if databases is not None:
            for _ in databases:
                pass


def _bill(server: Server) -> subprocess.Popen[bytes]:
    env = {**os.environ, "METERLINE_DATABASE_URL": server.database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "meterline", "bill", "--now", NOW.isoformat(), "--yes"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _plan(http: httpx.Client, fee: str) -> str:
    plan = http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p")}).json()
    price = http.post(
        "/v1/prices",
        json={
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "price_unit_type": "FIAT",
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
            "type": "FIXED",
            "billing_model": "FLAT_FEE",
            "amount": fee,
            "invoice_cadence": "ADVANCE",
        },
    )
    assert price.status_code == 201, price.text
    return str(plan["id"])


def _rows(database_url: str, sql: str) -> list[tuple[str, ...]]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(str(v) for v in row) for row in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def test_clock_killed_while_applying_schedules_applies_each_exactly_once(
    own_server: Server,
) -> None:
    tenant = new_tenant(own_server)
    with tenant.client() as http:
        basic, pro = _plan(http, "10"), _plan(http, "25")
        changed: set[str] = set()
        kept: set[str] = set()
        for index in range(SUBSCRIPTIONS):
            customer = http.post(
                "/v1/customers", json={"external_id": unique("c"), "name": "C"}
            ).json()
            sub = http.post(
                "/v1/subscriptions",
                json={
                    "customer_id": customer["id"],
                    "plan_id": basic,
                    "currency": "usd",
                    "billing_period": "MONTHLY",
                },
            ).json()
            if index % 2:
                kept.add(sub["id"])
                continue
            change = http.post(
                f"/v1/subscriptions/{sub['id']}/change/v2/execute",
                json={
                    "target_plan_id": pro,
                    "proration_behavior": "none",
                    "change_at": "end_of_period",
                },
            )
            assert change.status_code == 200 and change.json()["is_scheduled"], change.text
            changed.add(sub["id"])

    rng = random.Random(11)
    kills = 0
    for _ in range(3):
        process = _bill(own_server)
        time.sleep(rng.uniform(0.3, 1.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    racing = [_bill(own_server), _bill(own_server)]
    for process in racing:
        process.wait(timeout=600)
    last = _bill(own_server)
    out, err = last.communicate(timeout=600)
    assert last.returncode == 0, err.decode()
    assert json.loads(out.decode().strip().splitlines()[-1])["failed"] == 0

    url = own_server.database_url
    invoices = _rows(
        url,
        "SELECT subscription_id, subtotal FROM invoices WHERE billing_reason = 'SUBSCRIPTION_CYCLE'",
    )
    by_sub: dict[str, list[str]] = {}
    for sub_id, subtotal in invoices:
        by_sub.setdefault(sub_id, []).append(subtotal)
    assert set(by_sub) == changed | kept
    assert all(len(v) == 1 for v in by_sub.values()), "one period-end invoice each"
    assert {s for s in changed if float(by_sub[s][0]) != 25} == set()  # the new plan's fee
    assert {s for s in kept if float(by_sub[s][0]) != 10} == set()
    schedules = _rows(url, "SELECT subscription_id, schedule_status FROM subscription_schedules")
    assert sorted(s for s, _ in schedules) == sorted(changed), "one schedule each, none added"
    assert {status for _, status in schedules} == {"executed"}
    plans = dict(_rows(url, "SELECT id, plan_id FROM subscriptions"))
    assert {plans[s] for s in changed} == {pro} and {plans[s] for s in kept} == {basic}
    items = _rows(url, "SELECT subscription_id, entity_id, end_date FROM subscription_line_items")
    per_sub: dict[str, list[tuple[str, str]]] = {}
    for sub_id, entity_id, end_date in items:
        per_sub.setdefault(sub_id, []).append((entity_id, end_date))
    for sub_id in changed:
        assert sorted(e for e, _ in per_sub[sub_id]) == sorted([basic, pro]), sub_id
    assert kills >= 1
