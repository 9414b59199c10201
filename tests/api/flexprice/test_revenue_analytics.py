"""POST /v1/analytics/revenue through the SDK: invoice lines as revenue facts, billed on their
invoice's day or amortized over their service period, with exact amounts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import httpx
from flexprice import Flexprice

from tests.api.flexprice.test_invoices import new_customer
from tests.conftest import unique


def _world(fp: Flexprice) -> tuple[Any, Any, Any, Any]:
    """A customer with a 10 usd monthly fee since 2026-11-01 (its opening invoice serves
    November) and a one-off invoice of 25.50, both drafts."""
    customer = new_customer(fp)
    plan = fp.plans.create_plan(name="Fee", lookup_key=unique("fee"))
    fee = fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount="10",
        invoice_cadence="ADVANCE",
    )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date="2026-11-01T00:00:00Z",
    )
    one_off = fp.invoices.create_invoice(
        customer_id=customer.id,
        currency="usd",
        amount_due="25.50",
        subtotal="25.50",
        total="25.50",
        line_items=[{"display_name": "Setup", "amount": "25.50", "quantity": "1"}],
    )
    return customer, sub, one_off, fee


def _net(rows: Any) -> list[tuple[str | None, str, str, D]]:
    return [(r.day, r.group["revenue_source"], r.status, D(str(r.net_amount))) for r in rows]


def test_billed_and_amortized_revenue(fp: Flexprice, http: httpx.Client) -> None:
    customer, sub, one_off, fee = _world(fp)
    today = datetime.now(UTC).date().isoformat()
    billed = fp.analytics.get_revenue_analytics(
        start_time=f"{today}T00:00:00Z", granularity="total", customer_ids=[customer.id]
    )
    assert billed.contains_allocated is False
    assert sorted(_net(billed.rows), key=str) == sorted(
        [(None, "fixed", "PROVISIONAL", D("10")), (None, "one_off", "PROVISIONAL", D("25.5"))],
        key=str,
    )
    # Each filter filters: by price, currency and meter; adjustments (none exist) change nothing.
    mine = {
        "start_time": f"{today}T00:00:00Z",
        "granularity": "total",
        "customer_ids": [customer.id],
    }
    by_price = fp.analytics.get_revenue_analytics(**mine, price_ids=[fee.id])
    assert _net(by_price.rows) == [(None, "fixed", "PROVISIONAL", D("10"))]
    assert not fp.analytics.get_revenue_analytics(**mine, currency="eur").rows
    assert not fp.analytics.get_revenue_analytics(**mine, meter_ids=["meter_none"]).rows
    adjusted = fp.analytics.get_revenue_analytics(**mine, include_adjustments=True)
    assert _net(adjusted.rows) == _net(billed.rows)
    fp.invoices.finalize_invoice(id=one_off.id)
    final = fp.analytics.get_revenue_analytics(
        start_time=f"{today}T00:00:00Z", status="FINAL", customer_ids=[customer.id]
    )
    assert _net(final.rows) == [(today, "one_off", "FINAL", D("25.5"))]
    # Finalized, the opening invoice's fee is final revenue too.
    [opening] = fp.invoices.query_invoice(subscription_id=sub.id).items
    fp.invoices.finalize_invoice(id=opening.id)
    final = fp.analytics.get_revenue_analytics(
        start_time=f"{today}T00:00:00Z", status="FINAL", customer_ids=[customer.id]
    )
    assert sorted(_net(final.rows), key=str) == [
        (today, "fixed", "FINAL", D("10")),
        (today, "one_off", "FINAL", D("25.5")),
    ]
    # Amortized, November by day: the fee's 10 over its 30 days, cut so the days sum to 10.
    november = fp.analytics.get_revenue_analytics(
        start_time="2026-11-01T00:00:00Z",
        end_time="2026-11-30T12:00:00Z",
        allocation_policy="amortized",
        subscription_ids=[sub.id],
        group_by=["subscription_id"],
    )
    assert november.contains_allocated is True
    days = _net(november.rows)
    assert len(days) == 30 and {d[1:3] for d in days} == {("fixed", "FINAL")}
    assert days[0] == ("2026-11-01", "fixed", "FINAL", D("0.33"))
    assert days[1][3] == D("0.34")
    assert sum(d[3] for d in days) == D("10")
    assert {r.group["subscription_id"] for r in november.rows} == {sub.id}
    # By service period: one row for November.
    period = fp.analytics.get_revenue_analytics(
        start_time="2026-11-01T00:00:00Z",
        end_time="2026-11-30T00:00:00Z",
        allocation_policy="amortized",
        granularity="period",
        subscription_ids=[sub.id],
    )
    [row] = period.rows
    assert (row.period_start.date().isoformat(), D(str(row.net_amount))) == ("2026-11-01", D("10"))
    # Another customer's filter excludes every row.
    other = new_customer(fp)
    assert fp.analytics.get_revenue_analytics(
        start_time=f"{today}T00:00:00Z", customer_ids=[other.id]
    ).rows in (None, [])


def test_bad_revenue_requests_are_refused_by_name(http: httpx.Client) -> None:
    start = "2026-11-01T00:00:00Z"
    for body, needle in (
        ({}, "start_time"),
        ({"start_time": start, "granularity": "week"}, "granularity"),
        ({"start_time": start, "allocation_policy": "deferred"}, "allocation_policy"),
        ({"start_time": start, "status": "PAID"}, "status"),
        ({"start_time": start, "group_by": ["source"]}, "group_by"),
        ({"start_time": start, "end_time": "2026-10-01T00:00:00Z"}, "end_time"),
        ({"start_time": "2020-01-01T00:00:00Z", "end_time": start}, "end_time"),
        ({"start_time": start, "customer_ids": ["c"] * 101}, "customer_ids"),
    ):
        answer = http.post("/v1/analytics/revenue", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert needle in answer.text, answer.text
