"""The `check` benchmark (PERFORMANCE.md): entitlement checks with N events stored.

1. Starts ``meterline serve`` on a fresh SQLite file in a temp dir, and through the API
   creates a metered feature (SUM meter), a plan with a price and a hard-limited
   entitlement, and customers subscribed to it.
2. Stores N events (default 10 million, ``--events``) straight through
   ``SqlEventStore.insert`` (the group-commit writer's path: dedup, hourly aggregates) in
   large transactions, spread over the customers and the current billing period.
3. Measures with ``wrk`` (50 connections) against the real server:
   * ``check_usage``: ``GET /v1/customers/usage?customer_id=…&feature_lookup_keys=…``
   * ``check_post``: ``POST /v1/entitlements/check`` (no consume)
   * ``check_kaiten``: the Kaiten ``GET /api/instances/{i}/entitlements/{e}/usage`` of an
     instance whose counter has had a few reports (``bench/report.py``'s set-up)
   and, in the same run, the ceilings: a bare FastAPI GET on one uvicorn worker, and the
   driver against a server that answers at once.

Prints one JSON object per line.

    python bench/check.py --events 10000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import emit, free_port, require_wrk, run_wrk, start_meterline  # noqa: E402
from meterline.db.engine import Database  # noqa: E402
from meterline.kernel.instants import to_micros  # noqa: E402
from meterline.metering.ingest import EventRow  # noqa: E402
from meterline.metering.stores.sql import SqlEventStore  # noqa: E402
from meterline.settings import Settings  # noqa: E402
from report import setup as kaiten_setup  # noqa: E402

KEY = "sk_bench_check_key"
BATCH = 50_000


def setup(base: str, customers: int) -> dict[str, Any]:
    with httpx.Client(base_url=base, headers={"x-api-key": KEY}, timeout=60) as http:
        feature = http.post(
            "/v1/features",
            json={
                "name": "API calls",
                "type": "metered",
                "lookup_key": "api_calls",
                "meter": {
                    "name": "api_calls",
                    "event_name": "api_call",
                    "aggregation": {"type": "SUM", "field": "tokens"},
                    "reset_usage": "BILLING_PERIOD",
                },
            },
        ).json()
        plan = http.post("/v1/plans", json={"name": "Bench"}).json()
        http.post(
            "/v1/prices",
            json={
                "entity_type": "PLAN",
                "entity_id": plan["id"],
                "type": "USAGE",
                "price_unit_type": "FIAT",
                "currency": "usd",
                "meter_id": feature["meter_id"],
                "billing_model": "FLAT_FEE",
                "amount": "0.001",
                "billing_period": "MONTHLY",
                "invoice_cadence": "ARREAR",
            },
        ).raise_for_status()
        http.post(
            "/v1/entitlements",
            json={
                "plan_id": plan["id"],
                "feature_id": feature["id"],
                "feature_type": "metered",
                "usage_limit": 10**12,
                "usage_reset_period": "MONTHLY",
            },
        ).raise_for_status()
        start = datetime.now(UTC) - timedelta(days=20)
        ids = []
        for n in range(customers):
            customer = http.post(
                "/v1/customers", json={"external_id": f"bench-{n:05d}", "name": f"C{n}"}
            ).json()
            http.post(
                "/v1/subscriptions",
                json={
                    "customer_id": customer["id"],
                    "plan_id": plan["id"],
                    "currency": "usd",
                    "billing_period": "MONTHLY",
                    "start_date": start.isoformat(),
                },
            ).raise_for_status()
            ids.append(customer["id"])
        return {
            "environment_id": customer["environment_id"],
            "customer_ids": ids,
            "feature": feature,
            "period_start": start,
        }


def load_events(
    url: str, environment_id: str, total: int, customers: int, start: datetime
) -> float:
    db = Database.connect(Settings(), url)
    store = SqlEventStore(db.dialect)
    span = int((datetime.now(UTC) - start).total_seconds() * 1_000_000) - 60_000_000
    first = to_micros(start) + 60_000_000
    step = max(1, span // total)
    began = time.perf_counter()
    n = 0
    while n < total:
        rows = []
        for i in range(n, min(total, n + BATCH)):
            rows.append(
                EventRow(
                    environment_id=environment_id,
                    event_id=f"evt_{i:010d}",
                    event_name="api_call",
                    external_customer_id=f"bench-{i % customers:05d}",
                    customer_id=None,
                    timestamp=first + i * step,
                    source=None,
                    properties={"tokens": 1},
                    properties_json='{"tokens":1}',
                )
            )
        with db.write_engine.begin() as conn:
            store.insert(conn, rows)
        n += len(rows)
    elapsed = time.perf_counter() - began
    db.dispose()
    return elapsed


def measure(
    wrk: str, base: str, env: dict[str, str], seconds: int, connections: int
) -> dict[str, Any]:
    run_wrk(wrk, base, HERE / "check.lua", threads=2, connections=connections, seconds=2, env=env)
    return run_wrk(
        wrk, base, HERE / "check.lua", threads=2, connections=connections, seconds=seconds, env=env
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    wrk = require_wrk()
    with tempfile.TemporaryDirectory(prefix="meterline-check-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        server, base, _ = start_meterline(url, KEY)
        try:
            world = setup(base, args.customers)
            elapsed = load_events(
                url, world["environment_id"], args.events, args.customers, world["period_start"]
            )
            emit(
                bench="check",
                phase="load",
                events=args.events,
                seconds=round(elapsed, 1),
                events_per_s=round(args.events / elapsed),
            )
            customer = world["customer_ids"][0]
            per_customer = args.events // args.customers
            with httpx.Client(base_url=base, headers={"x-api-key": KEY}) as http:
                summary = http.get(
                    "/v1/customers/usage",
                    params={"customer_id": customer, "feature_lookup_keys": "api_calls"},
                ).json()
            usage = summary["features"][0]["current_usage"]
            emit(bench="check", phase="verify", customer_usage=usage, expected=str(per_customer))
            kaiten_path = kaiten_setup(base, KEY, 10**9, "check-bench")
            with httpx.Client(base_url=base, headers={"x-api-key": KEY}) as http:
                for _ in range(10):
                    http.post(
                        kaiten_path,
                        json={"behavior": "append", "value": {"type": "number", "value": 1}},
                    ).raise_for_status()
            common = {"BENCH_KEY": KEY}
            results = {}
            for name, env in (
                (
                    "check_usage",
                    {
                        **common,
                        "CHECK_PATH": f"/v1/customers/usage?customer_id={customer}&feature_lookup_keys=api_calls",
                    },
                ),
                (
                    "check_post",
                    {
                        **common,
                        "CHECK_PATH": "/v1/entitlements/check",
                        "CHECK_BODY": json.dumps(
                            {"customer_id": customer, "feature_lookup_key": "api_calls"}
                        ),
                    },
                ),
                ("check_kaiten", {**common, "CHECK_PATH": kaiten_path}),
            ):
                result = measure(wrk, base, env, args.seconds, args.connections)
                results[name] = result
        finally:
            server.terminate()
            server.wait()
    port = free_port()
    bare = subprocess.Popen([sys.executable, str(HERE / "bare_get_server.py"), str(port)])
    try:
        _wait(f"http://127.0.0.1:{port}/v1/customers/usage")
        ceiling = measure(
            wrk,
            f"http://127.0.0.1:{port}",
            {"BENCH_KEY": KEY, "CHECK_PATH": "/v1/customers/usage"},
            args.seconds,
            args.connections,
        )
    finally:
        bare.terminate()
        bare.wait()
    ceiling_rps = ceiling["requests"] / ceiling["seconds"]
    emit(
        bench="check",
        phase="ceiling_bare_fastapi_get",
        requests_per_s=round(ceiling_rps),
        p50_ms=round(ceiling["p50_ms"], 2),
        p99_ms=round(ceiling["p99_ms"], 2),
    )
    for name, result in results.items():
        rps = result["requests"] / result["seconds"]
        emit(
            bench="check",
            phase=name,
            events_stored=args.events,
            connections=args.connections,
            requests_per_s=round(rps),
            p50_ms=round(result["p50_ms"], 2),
            p99_ms=round(result["p99_ms"], 2),
            non_2xx=result["non_2xx"],
            socket_errors=result["socket_errors"],
            ceiling_requests_per_s=round(ceiling_rps),
            ratio=round(rps / ceiling_rps, 3),
            goal="p99 <= 10 ms and ratio >= 0.5",
        )
    port = free_port()
    instant = subprocess.Popen([sys.executable, str(HERE / "instant_server.py"), str(port)])
    try:
        time.sleep(0.5)
        driver = measure(
            wrk, f"http://127.0.0.1:{port}", {"CHECK_PATH": "/"}, args.seconds, args.connections
        )
    finally:
        instant.terminate()
        instant.wait()
    emit(
        bench="check",
        phase="ceiling_driver",
        requests_per_s=round(driver["requests"] / driver["seconds"]),
    )


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("bare server did not start")


if __name__ == "__main__":
    main()
