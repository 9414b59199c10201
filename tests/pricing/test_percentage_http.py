"""PERCENTAGE prices over real HTTP (a Meterline extension of the Flexprice price wire):
refused with a 400 naming the field, stored and shown, priced on the invoice the billing
clock closes, and on the subscription's usage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, unique
from tests.invoicing.test_clock import _M, START, bill_to_end, cycle_invoices

SETTINGS = {
    "rate": "2.5",
    "fixed_amount": "0.30",
    "free_units_per_events": 1,
    "per_transaction_max_amount": "5",
}
# In the first period (from M0-15): the first event is free; 200 → 5 + 0.30 and 1000 →
# 25 + 0.30, both capped at 5; 10 → 0.25 + 0.30. The 100 after the period is the next one's.
EVENTS = [
    (f"{_M[0]}-16T08:00:00Z", "100"),
    (f"{_M[0]}-17T08:00:00Z", "200"),
    (f"{_M[0]}-18T08:00:00Z", "1000"),
    (f"{_M[1]}-14T23:59:59Z", "10"),
    (f"{_M[1]}-15T00:00:00Z", "100"),
]
FIRST_PERIOD_AMOUNT = "10.55"  # 5 + 5 + 0.55


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _meter(http: httpx.Client, aggregation: dict[str, Any]) -> dict[str, Any]:
    return _ok(
        http.post(
            "/v1/features",
            json={
                "name": "Payments",
                "type": "metered",
                "lookup_key": unique("payments"),
                "meter": {
                    "name": "payments",
                    "event_name": unique("payment"),
                    "aggregation": aggregation,
                    "reset_usage": "BILLING_PERIOD",
                },
            },
        )
    )


def _price_body(plan_id: str, meter: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "entity_type": "PLAN",
        "entity_id": plan_id,
        "type": "USAGE",
        "currency": "usd",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "meter_id": meter,
        "billing_model": "PERCENTAGE",
        "percentage": SETTINGS,
        **fields,
    }


@pytest.fixture
def setup(http: httpx.Client) -> tuple[str, dict[str, Any]]:
    plan = _ok(http.post("/v1/plans", json={"name": "Payments", "lookup_key": unique("p")}))
    feature = _meter(http, {"type": "SUM", "field": "amount"})
    return plan["id"], feature


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"percentage": None}, "percentage.rate"),
        ({"percentage": {"fixed_amount": "1"}}, "percentage.rate"),
        ({"percentage": {"rate": "101"}}, "percentage.rate"),
        ({"percentage": {"rate": "-1"}}, "percentage.rate"),
        ({"percentage": {"rate": "x"}}, "percentage.rate"),
        ({"percentage": {"rate": "1", "fixed_amount": "-1"}}, "percentage.fixed_amount"),
        (
            {"percentage": {"rate": "1", "free_units_per_events": 0}},
            "percentage.free_units_per_events",
        ),
        (
            {
                "percentage": {
                    "rate": "1",
                    "per_transaction_min_amount": "3",
                    "per_transaction_max_amount": "2",
                }
            },
            "percentage.per_transaction_max_amount",
        ),
        ({"billing_model": "FLAT_FEE", "amount": "1"}, "percentage"),
        ({"type": "FIXED", "meter_id": None, "invoice_cadence": "ADVANCE"}, "type"),
    ],
)
def test_bad_percentage_prices_are_refused_naming_the_field(
    http: httpx.Client, setup: tuple[str, dict[str, Any]], fields: dict[str, Any], field: str
) -> None:
    plan_id, feature = setup
    response = http.post("/v1/prices", json=_price_body(plan_id, feature["meter_id"], **fields))
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field


def test_percentage_needs_a_plain_sum_meter(
    http: httpx.Client, setup: tuple[str, dict[str, Any]]
) -> None:
    plan_id, _feature = setup
    for aggregation in (
        {"type": "COUNT"},
        {"type": "SUM", "field": "amount", "bucket_size": "HOUR"},
    ):
        meter_id = _meter(http, aggregation)["meter_id"]
        response = http.post("/v1/prices", json=_price_body(plan_id, meter_id))
        assert response.status_code == 400, response.text
        assert response.json()["details"]["field"] == "meter_id"


def test_percentage_price_is_stored_and_shown(
    http: httpx.Client, setup: tuple[str, dict[str, Any]]
) -> None:
    plan_id, feature = setup
    price = _ok(http.post("/v1/prices", json=_price_body(plan_id, feature["meter_id"])))
    assert price["billing_model"] == "PERCENTAGE"
    expected = {**SETTINGS, "fixed_amount": "0.3"}
    assert price["percentage"] == expected
    assert _ok(http.get(f"/v1/prices/{price['id']}"), 200)["percentage"] == expected
    # a pricing change makes a new version with the new settings
    updated = _ok(http.put(f"/v1/prices/{price['id']}", json={"percentage": {"rate": "3"}}), 200)
    assert updated["id"] != price["id"]
    assert updated["percentage"] == {"rate": "3"}
    bad = http.put(f"/v1/prices/{updated['id']}", json={"percentage": {"rate": "300"}})
    assert bad.status_code == 400
    assert bad.json()["details"]["field"] == "percentage.rate"


def test_the_clock_prices_each_event_of_the_period(
    tenant: Tenant, http: httpx.Client, setup: tuple[str, dict[str, Any]]
) -> None:
    plan_id, feature = setup
    _ok(http.post("/v1/prices", json=_price_body(plan_id, feature["meter_id"])))
    customer = _ok(http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}))
    sub = _ok(
        http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": START,
            },
        )
    )
    events = [
        {
            "event_name": feature["meter"]["event_name"],
            "external_customer_id": customer["external_id"],
            "event_id": unique("e"),
            "timestamp": stamp,
            "properties": {"amount": amount},
        }
        for stamp, amount in EVENTS
    ]
    _ok(http.post("/v1/events/bulk", json={"events": events}), 202)
    usage = _ok(
        http.post(
            "/v1/subscriptions/usage",
            json={
                "subscription_id": sub["id"],
                "start_time": START,
                "end_time": f"{_M[1]}-15T00:00:00Z",
            },
        ),
        200,
    )
    assert [(str(c["quantity"]), str(c["amount"])) for c in usage["charges"]] == [
        ("1310", FIRST_PERIOD_AMOUNT)
    ]
    bill_to_end(tenant.server)
    invoices = cycle_invoices(http, sub["id"])
    first = _ok(http.get(f"/v1/invoices/{invoices[0]['id']}"), 200)
    lines = [(line["quantity"], line["amount"]) for line in first["line_items"]]
    assert lines == [("1310", FIRST_PERIOD_AMOUNT)]
    # second period: one event of 100, the first of its period, free
    second = _ok(http.get(f"/v1/invoices/{invoices[1]['id']}"), 200)
    assert [(line["quantity"], line["amount"]) for line in second["line_items"]] == [("100", "0")]
