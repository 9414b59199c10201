"""The `analytics` benchmark: usage and revenue analytics over N events (default 10 million).

Loads, straight through the services and the event store (no HTTP): two metered features
(calls: COUNT, tokens: SUM) on one ``bench_call`` event, one plan (a 10 usd fee, a usage
price on each), C customers (default 1,000) each on a monthly subscription, and N events
spread over the subscription's first month. The billing clock then closes that month, so
every customer has a finalized invoice. A server is started on the database and measured
over HTTP:

  * ``usage_analytics``: ``POST /v1/events/analytics`` for one customer over the month with
    a daily window (usage and cost of both features), p50 and p99 over 50 customers;
  * ``revenue_analytics``: ``POST /v1/analytics/revenue`` for the whole environment, by day
    and by customer, median of 5 runs;
  * ``ceiling``: ``GET /health`` of the same server, the round trip no answer beats.

The goal (issue: credits, alerts and analytics) is ≤ 500 ms for each at 10 M events.
Prints one JSON object per line.

    python bench/analytics.py                            # 10 M events, 1,000 customers
    python bench/analytics.py --events 200000 --customers 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, rss_peak_mb, start_meterline
from billing_run import NOW, PERIOD_END, PERIOD_START, load_events, subscribe_customers
from meterline.accounts.principal import Principal
from meterline.db.engine import Database
from meterline.settings import Settings

GOAL_MS = 500
SAMPLES = 50
RUNS = 5


def setup(db: Database, customers: int) -> tuple[Principal, str]:
    """The catalog, customers and subscriptions; returns the principal and an API key."""
    from meterline.accounts import service as accounts
    from meterline.api.flexprice.prices import PriceIn
    from meterline.catalog import service as catalog
    from meterline.catalog.commands import CreateFeature, CreateMeter
    from meterline.pricing import plans, prices

    with db.session() as session:
        account = accounts.ensure_default_account(session)
        api_key, plaintext = accounts.create_api_key(
            session,
            organization_id=account.organization.id,
            environment_id=account.environment.id,
            user_id=account.user.id,
            name="bench",
        )
        principal = Principal(
            organization_id=account.organization.id,
            environment_id=account.environment.id,
            key_id=api_key.id,
            user_id=account.user.id,
            scopes=frozenset({"*"}),
        )
        meters = {}
        for name, aggregation, field in (("calls", "COUNT", None), ("tokens", "SUM", "tokens")):
            feature = catalog.create_feature(
                session,
                principal,
                CreateFeature(
                    name=name,
                    type="metered",
                    lookup_key=name,
                    meter=CreateMeter(
                        name=name,
                        event_name="bench_call",
                        aggregation_type=aggregation,
                        field=field,
                    ),
                ),
            )
            meters[name] = feature.meter_id
        plan = plans.create_plan(session, principal, name="Bench", lookup_key="bench")
        common = {
            "entity_type": "PLAN",
            "entity_id": plan.id,
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
        }
        bodies: list[dict[str, Any]] = [
            {
                **common,
                "type": "FIXED",
                "billing_model": "FLAT_FEE",
                "amount": "10",
                "invoice_cadence": "ADVANCE",
            },
            {
                **common,
                "type": "USAGE",
                "billing_model": "FLAT_FEE",
                "amount": "0.002",
                "meter_id": meters["calls"],
                "invoice_cadence": "ARREAR",
            },
            {
                **common,
                "type": "USAGE",
                "billing_model": "TIERED",
                "tier_mode": "SLAB",
                "tiers": [
                    {"up_to": 1000, "unit_amount": "0.001"},
                    {"up_to": None, "unit_amount": "0.0005"},
                ],
                "meter_id": meters["tokens"],
                "invoice_cadence": "ARREAR",
            },
        ]
        prices.create_prices(
            session, principal, [PriceIn.model_validate(b).command() for b in bodies], bulk=True
        )
        plan_id = plan.id
    subscribe_customers(db, principal, plan_id, customers)
    return principal, plaintext


def _ms(client: httpx.Client, method: str, path: str, body: Any = None) -> float:
    began = time.perf_counter()
    answer = client.request(method, path, json=body)
    elapsed = (time.perf_counter() - began) * 1000
    answer.raise_for_status()
    return elapsed


def measure(base: str, key: str, customers: int, total: int, pid: int) -> None:
    month = {"start_time": PERIOD_START.isoformat(), "end_time": PERIOD_END.isoformat()}
    headers = {"x-api-key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        ceiling = sorted(_ms(client, "GET", "/health") for _ in range(SAMPLES))
        step = max(1, customers // SAMPLES)
        # One call of each first: the server's first query of a kind compiles and caches.
        _ms(
            client, "POST", "/v1/events/analytics", {**month, "external_customer_id": "cust_000000"}
        )
        _ms(client, "POST", "/v1/analytics/revenue", {**month, "granularity": "day"})
        usage = sorted(
            _ms(
                client,
                "POST",
                "/v1/events/analytics",
                {**month, "external_customer_id": f"cust_{c:06d}", "window_size": "DAY"},
            )
            for c in range(0, customers, step)[:SAMPLES]
        )
        revenue_by_day = [
            _ms(
                client,
                "POST",
                "/v1/analytics/revenue",
                {**month, "granularity": "day"},
            )
            for _ in range(RUNS)
        ]
        revenue_by_customer = [
            _ms(
                client,
                "POST",
                "/v1/analytics/revenue",
                {**month, "granularity": "total", "group_by": ["customer_id"]},
            )
            for _ in range(RUNS)
        ]
    p50 = statistics.median(usage)
    p99 = usage[min(len(usage) - 1, int(len(usage) * 0.99))]
    emit(bench="ceiling", what="GET /health", p50_ms=round(statistics.median(ceiling), 2))
    emit(
        bench="usage_analytics",
        events=total,
        customers=customers,
        p50_ms=round(p50, 1),
        p99_ms=round(p99, 1),
        goal_ms=GOAL_MS,
        ok=p99 <= GOAL_MS,
    )
    for name, runs in (("day", revenue_by_day), ("customer", revenue_by_customer)):
        median = statistics.median(runs)
        emit(
            bench="revenue_analytics",
            by=name,
            events=total,
            median_ms=round(median, 1),
            goal_ms=GOAL_MS,
            ok=median <= GOAL_MS,
        )
    emit(bench="server_rss", peak_mb=rss_peak_mb(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000)
    args = parser.parse_args()

    from meterline.db.migrate import upgrade
    from meterline.invoicing import clock
    from meterline.metering.rebuild_job import MeterRebuildJob

    tmp = Path(tempfile.mkdtemp(prefix="meterline-analytics-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    db = Database.connect(Settings(database_url=url))
    began = time.perf_counter()
    principal, key = setup(db, args.customers)
    MeterRebuildJob(db, Settings(database_url=url).events).run_once()
    load_events(db, args.events, args.customers, principal.environment_id)
    loaded_s = time.perf_counter() - began
    report = clock.run_once(db, now=NOW, grace=timedelta(hours=1))
    emit(
        bench="analytics_setup",
        events=args.events,
        customers=args.customers,
        load_s=round(loaded_s, 1),
        invoices=report.invoices_finalized,
    )
    db.dispose()
    process, base, _startup = start_meterline(url, "sk_bench_unused_0000000000")
    try:
        measure(base, key, args.customers, args.events, process.pid)
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
