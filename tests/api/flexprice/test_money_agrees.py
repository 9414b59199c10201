"""Responses that report money agree with the rows they describe.

Over random subscriptions (a fixed ADVANCE fee, one to three metered prices with sub-cent
unit amounts, random usage, a start some days ago and an immediate cancellation at a random
instant since), each number a response reports is compared with the rows read back through
the API:

* ``/v1/subscriptions/usage``: each charge is its quantity priced and rounded once
  (``kernel.money.round_money``), and the total is the sum of the rounded charges;
* the invoice preview bills each usage line item what the usage response charges it;
* the cancel response's ``total_credit_amount`` and ``proration_details`` are the
  proration credit lines of the cancel invoice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.kernel.money import round_money
from tests.conftest import Server, new_tenant, unique


def _json(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return json.loads(response.text, parse_float=Decimal)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


unit_amounts = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("3"), places=4, allow_nan=False
)
fees = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
usage_values = st.lists(st.integers(min_value=1, max_value=997), min_size=0, max_size=6)


@st.composite
def subscriptions(draw: st.DrawFn) -> dict[str, Any]:
    meters = draw(st.integers(min_value=1, max_value=3))
    return {
        "fee": draw(fees),
        "prices": [draw(unit_amounts) for _ in range(meters)],
        "usage": [draw(usage_values) for _ in range(meters)],
        "started_days_ago": draw(st.integers(min_value=1, max_value=25)),
        # where in [start, now) the cancellation falls, as a fraction; 0 is the start instant
        "cancel_at": draw(st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.99))),
    }


def _create(http: httpx.Client, spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    start = now - timedelta(days=spec["started_days_ago"])
    customer = _json(http.post("/v1/customers", json={"external_id": unique("c"), "name": "M"}))
    plan = _json(http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p")}))
    common = {
        "entity_type": "PLAN",
        "entity_id": plan["id"],
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
    }
    _json(
        http.post(
            "/v1/prices",
            json={
                **common,
                "type": "FIXED",
                "billing_model": "FLAT_FEE",
                "amount": str(spec["fee"]),
                "invoice_cadence": "ADVANCE",
            },
        )
    )
    meters: list[tuple[str, str, Decimal]] = []
    for unit in spec["prices"]:
        event = unique("ev")
        meter = _json(
            http.post(
                "/v1/meters",
                json={
                    "name": event,
                    "event_name": event,
                    "aggregation": {"type": "SUM", "field": "n"},
                    "reset_usage": "BILLING_PERIOD",
                },
            )
        )
        _json(
            http.post(
                "/v1/prices",
                json={
                    **common,
                    "type": "USAGE",
                    "meter_id": meter["id"],
                    "billing_model": "FLAT_FEE",
                    "amount": str(unit),
                    "invoice_cadence": "ARREAR",
                },
            )
        )
        meters.append((meter["id"], event, unit))
    sub = _json(
        http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan["id"],
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": _iso(start),
            },
        )
    )
    events = [
        {
            "event_name": event,
            "external_customer_id": customer["external_id"],
            "event_id": unique("e"),
            "timestamp": _iso(start + (now - start) * (i + 1) / (len(values) + 2)),
            "properties": {"n": str(value)},
        }
        for (_, event, _), values in zip(meters, spec["usage"], strict=True)
        for i, value in enumerate(values)
    ]
    if events:
        assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    return {"sub": sub, "start": start, "meters": meters}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=subscriptions())
def test_reported_money_agrees_with_the_rows(server: Server, spec: dict[str, Any]) -> None:
    tenant = new_tenant(server)
    now = datetime.now(UTC)
    with tenant.client() as http:
        made = _create(http, spec, now)
        sub, start = made["sub"], made["start"]

        # usage: each charge rounded once, the total their sum
        usage = _json(http.post("/v1/subscriptions/usage", json={"subscription_id": sub["id"]}))
        units = {meter_id: unit for meter_id, _, unit in made["meters"]}
        charged: dict[str, Decimal] = {}
        for charge in usage["charges"]:
            quantity = Decimal(str(charge["quantity"]))
            expected = round_money(quantity * units[charge["meter_id"]], 2)
            assert Decimal(str(charge["amount"])) == expected, charge
            charged[charge["subscription_line_item_id"]] = expected
        assert Decimal(str(usage["amount"])) == sum(charged.values(), Decimal(0))
        assert len(charged) == len(made["meters"])

        # the preview bills each usage line item what the usage response charges it
        preview = _json(http.post("/v1/invoices/preview", json={"subscription_id": sub["id"]}))
        previewed = {
            line["subscription_line_item_id"]: Decimal(line["amount"])
            for line in preview["line_items"]
            if line["price_type"] == "USAGE"
        }
        assert {k: v for k, v in previewed.items() if v} == {k: v for k, v in charged.items() if v}

        # cancel: the response's credits are the cancel invoice's proration lines
        cancel_at = start + (now - start) * spec["cancel_at"]
        cancelled = _json(
            http.post(
                f"/v1/subscriptions/{sub['id']}/cancel",
                json={
                    "cancellation_type": "immediate",
                    "cancel_at": _iso(cancel_at),
                    "cancel_immediately_invoice_policy": "generate_invoice",
                },
            )
        )
        found = _json(
            http.post(
                "/v1/invoices/search",
                json={"subscription_id": sub["id"], "billing_reason": "SUBSCRIPTION_UPDATE"},
            )
        )
        assert len(found["items"]) == 1
        credit_lines = [
            line
            for line in found["items"][0]["line_items"]
            if (line.get("metadata") or {}).get("proration") == "credit"
        ]
        credited = [-Decimal(line["amount"]) for line in credit_lines]
        assert all(c > 0 for c in credited)
        if cancel_at == start:
            # only the cancel day was used: a credit for the rest of the period
            assert credited and sum(credited) <= spec["fee"], found["items"][0]["line_items"]
        assert Decimal(cancelled["total_credit_amount"]) == sum(credited, Decimal(0))
        assert sorted(
            (d["line_item_id"], Decimal(d["credit_amount"])) for d in cancelled["proration_details"]
        ) == sorted(
            (line["subscription_line_item_id"], c)
            for line, c in zip(credit_lines, credited, strict=True)
        )


def _cancel_credits(http: httpx.Client, sub_id: str, cancel_at: datetime) -> list[Decimal]:
    """The proration credit lines of an immediate cancel at ``cancel_at``, and the response's."""
    cancelled = _json(
        http.post(
            f"/v1/subscriptions/{sub_id}/cancel",
            json={
                "cancellation_type": "immediate",
                "cancel_at": _iso(cancel_at),
                "cancel_immediately_invoice_policy": "generate_invoice",
            },
        )
    )
    found = _json(
        http.post(
            "/v1/invoices/search",
            json={"subscription_id": sub_id, "billing_reason": "SUBSCRIPTION_UPDATE"},
        )
    )
    [invoice] = found["items"]
    credit_lines = [
        -Decimal(line["amount"])
        for line in invoice["line_items"]
        if (line.get("metadata") or {}).get("proration") == "credit"
    ]
    assert Decimal(cancelled["total_credit_amount"]) == sum(credit_lines, Decimal(0))
    return credit_lines


def test_cancel_at_the_start_instant_credits_the_unused_days(server: Server) -> None:
    """A cancel at the start instant credits what one a microsecond later does (same day)."""
    tenant = new_tenant(server)
    now = datetime.now(UTC)
    spec = {"fee": Decimal("30.00"), "prices": [], "usage": [], "started_days_ago": 3}
    with tenant.client() as http:
        at_start = _create(http, spec, now)
        just_after = _create(http, spec, now)
        start_credits = _cancel_credits(http, at_start["sub"]["id"], at_start["start"])
        later = just_after["start"] + timedelta(microseconds=1)
        later_credits = _cancel_credits(http, just_after["sub"]["id"], later)
    # The partial start day is not charged (docs/billing.md, "Subscription changes"), so
    # a cancel on it credits every paid day.
    assert len(later_credits) == 1 and Decimal(0) < later_credits[0] <= spec["fee"]
    assert start_credits == later_credits
