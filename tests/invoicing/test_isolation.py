"""One subscription that cannot be billed never stops the billing clock for the others.

A subscription whose period cannot be closed (an amount beyond what money arithmetic holds,
stored data the clock cannot read) is recorded as a billing failure — visible on the
subscription (``billing_error``) and as a ``subscription.billing_failed`` webhook — while
every other subscription is billed in the same run. A later run retries it, and once the
cause is fixed it is billed exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from meterline.db import models as _all_tables  # noqa: F401 - every table, for the flush
from meterline.db.engine import Database
from meterline.invoicing import clock
from meterline.settings import Settings
from tests.conftest import Server, Tenant, new_tenant, unique
from tests.invoicing.test_clock import bill_to_end, plan_with_fee, subscribe_at

# Two monthly periods have ended between the start and the clock's run.
RUN = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = RUN - timedelta(days=70)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _sql(server: Server, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _run_clock(server: Server, now: datetime = RUN) -> clock.RunReport:
    if server.event_store == "clickhouse":
        pytest.skip("an in-process clock cannot share the server's in-process chdb store")
    db = Database.connect(Settings(database_url=server.database_url))
    try:
        return clock.run_once(db, now=now, grace=timedelta(hours=1))
    finally:
        db.dispose()


def _price_model(server: Server, plan_id: str, model: str, kind: str = "FIXED") -> None:
    """Rewrites the plan's price's model behind the API's back: stored data the clock
    cannot price, whatever its arithmetic."""
    _sql(
        server,
        "UPDATE prices SET billing_model = :model WHERE entity_id = :plan AND type = :kind",
        model=model,
        plan=plan_id,
        kind=kind,
    )


def _per_unit_plan(http: httpx.Client) -> tuple[str, str]:
    """A plan charging 1e20 per unit of a SUM meter on ``n``: (plan id, event name)."""
    event_name = unique("units")
    feature = http.post(
        "/v1/features",
        json={
            "name": "Units",
            "type": "metered",
            "lookup_key": unique("units"),
            "meter": {
                "name": "units",
                "event_name": event_name,
                "aggregation": {"type": "SUM", "field": "n"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    plan = http.post("/v1/plans", json={"name": "Per unit", "lookup_key": unique("p")}).json()
    price = http.post(
        "/v1/prices",
        json={
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "price_unit_type": "FIAT",
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
            "type": "USAGE",
            "billing_model": "FLAT_FEE",
            "amount": "1e20",
            "meter_id": feature["meter_id"],
            "invoice_cadence": "ARREAR",
        },
    )
    assert price.status_code == 201, price.text
    return plan["id"], event_name


def _cycle(http: httpx.Client, subscription_id: str) -> list[dict[str, Any]]:
    found = http.post(
        "/v1/invoices/search",
        json={"subscription_id": subscription_id, "billing_reason": "SUBSCRIPTION_CYCLE"},
    ).json()["items"]
    return sorted(found, key=lambda i: i["period_start"])


def test_a_subscription_that_cannot_be_billed_does_not_stop_the_others(
    tenant: Tenant, http: httpx.Client
) -> None:
    server = tenant.server
    # The one that overflows money arithmetic: 10^7 units at 1e20 each.
    plan_id, event_name = _per_unit_plan(http)
    [(huge_id, huge_customer)] = subscribe_at(http, plan_id, 1, _iso(START))
    accepted = http.post(
        "/v1/events",
        json={
            "event_name": event_name,
            "external_customer_id": huge_customer,
            "timestamp": _iso(START + timedelta(days=3)),
            "properties": {"n": "10000000"},
        },
    )
    assert accepted.status_code in (200, 201, 202), accepted.text
    # The one whose stored data the clock cannot read, whatever the arithmetic.
    fee_plan, _meter = plan_with_fee(http, unique("call"))
    [(broken_id, _c)] = subscribe_at(http, fee_plan, 1, _iso(START))
    _price_model(server, fee_plan, "RETIRED_MODEL")
    # Another tenant's healthy subscription, billed by the same run.
    other = new_tenant(server)
    with other.client() as other_http:
        other_plan, _m = plan_with_fee(other_http, unique("call"))
        [(healthy_id, _c2)] = subscribe_at(other_http, other_plan, 1, _iso(START))

        report = bill_to_end(server, _iso(RUN))
        assert report["failed"] >= 1

        healthy = _cycle(other_http, healthy_id)
        assert [i["subtotal"] for i in healthy] == ["10", "10"]
        assert all(i["invoice_status"] == "FINALIZED" for i in healthy)
        assert "billing_error" not in other_http.get(f"/v1/subscriptions/{healthy_id}").json()

    got = http.get(f"/v1/subscriptions/{broken_id}")
    assert got.status_code == 200, got.text
    broken = got.json()
    error = broken["billing_error"]
    assert error["period_start"] == _iso(START)  # the first period, not billed
    assert error["attempts"] == 1
    assert error["reason"]
    assert _cycle(http, broken_id) == []
    with tenant.flexprice() as fp:  # the official SDK reads the extended subscription
        assert fp.subscriptions.get_subscription(id=broken_id).id == broken_id

    huge = http.get(f"/v1/subscriptions/{huge_id}").json()
    huge_invoices = _cycle(http, huge_id)
    if "billing_error" in huge:  # recorded as failed: nothing half-billed
        assert huge_invoices == []
    else:  # or billed correctly
        assert huge_invoices[0]["subtotal"] == "1000000000000000000000000000"

    messages = _sql(
        server,
        "SELECT payload FROM webhook_messages WHERE event_type = 'subscription.billing_failed'"
        " AND environment_id = :env",
        env=tenant.environment_id,
    )
    payloads = [p if isinstance(p, dict) else json.loads(p) for (p,) in messages]
    assert [p["subscription_id"] for p in payloads if p["subscription_id"] == broken_id] == [
        broken_id
    ]

    # A later run retries it (one more attempt, still one webhook); once the cause is
    # fixed, the next run bills it, exactly once.
    # (In-process, as serve's clock runs it: a CLI process per run would cost seconds.)
    _run_clock(server)
    assert http.get(f"/v1/subscriptions/{broken_id}").json()["billing_error"]["attempts"] == 2
    _price_model(server, fee_plan, "FLAT_FEE")
    _run_clock(server)
    _run_clock(server)  # and once more: nothing billed twice
    assert [i["subtotal"] for i in _cycle(http, broken_id)] == ["10", "10"]
    assert "billing_error" not in http.get(f"/v1/subscriptions/{broken_id}").json()


def test_a_draft_that_cannot_be_finalized_is_recorded_and_retried(
    tenant: Tenant, http: httpx.Client
) -> None:
    event_name = unique("call")
    plan_id, _meter = plan_with_fee(http, event_name)
    [(sub_id, customer)] = subscribe_at(http, plan_id, 1, _iso(START))
    opening = http.post(
        "/v1/invoices/search",
        json={"subscription_id": sub_id, "billing_reason": "SUBSCRIPTION_CREATE"},
    ).json()["items"][0]
    period_end = datetime.fromisoformat(opening["period_end"].replace("Z", "+00:00"))
    http.post(
        "/v1/events",
        json={
            "event_name": event_name,
            "external_customer_id": customer,
            "timestamp": _iso(START + timedelta(days=2)),
        },
    )
    # Closed inside its grace period: a draft, finalized by a later run.
    _run_clock(tenant.server, period_end + timedelta(minutes=10))
    [draft] = _cycle(http, sub_id)
    assert draft["invoice_status"] == "DRAFT"
    _price_model(tenant.server, plan_id, "RETIRED_MODEL", kind="USAGE")

    report = _run_clock(tenant.server, period_end + timedelta(hours=2))
    assert report.failed >= 1
    error = http.get(f"/v1/subscriptions/{sub_id}").json()["billing_error"]
    assert (error["stage"], error["invoice_id"]) == ("finalize", draft["id"])
    assert _cycle(http, sub_id)[0]["invoice_status"] == "DRAFT"

    _price_model(tenant.server, plan_id, "FLAT_FEE", kind="USAGE")
    _run_clock(tenant.server, period_end + timedelta(hours=2))
    [final] = _cycle(http, sub_id)
    assert (final["id"], final["invoice_status"], final["subtotal"]) == (
        draft["id"],
        "FINALIZED",
        "10.5",
    )
    assert "billing_error" not in http.get(f"/v1/subscriptions/{sub_id}").json()
