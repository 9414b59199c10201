"""EARLIEST over real HTTP, on every backend: usage queries, entitlement checks, invoices.

EARLIEST is a Meterline extension of the Flexprice wire: the value of the first event in
the window by timestamp, ties going to the event ingested first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.api.flexprice.test_usage import at, meter, send, usage, value
from tests.conftest import unique

EARLIEST = {"type": "EARLIEST", "field": "tokens"}


def _sample(http: httpx.Client) -> str:
    name = unique("first")
    send(
        http,
        [
            {"event_name": name, "external_customer_id": "c1", "event_id": f"{name}-1",
             "timestamp": at(1.5), "properties": {"tokens": "2"}},
            {"event_name": name, "external_customer_id": "c1", "event_id": f"{name}-2",
             "timestamp": at(0.5), "properties": {"tokens": "1.5"}},
            {"event_name": name, "external_customer_id": "c1", "event_id": f"{name}-3",
             "timestamp": at(26), "properties": {"tokens": "3"}},
            {"event_name": name, "external_customer_id": "c1", "event_id": f"{name}-4",
             "timestamp": at(27), "properties": {"tokens": "9"}},
            {"event_name": name, "external_customer_id": "c2", "event_id": f"{name}-5",
             "timestamp": at(0.25), "properties": {"tokens": "100"}},
        ],
    )  # fmt: skip
    return name


def test_usage_by_meter_takes_the_first_event_by_time(http: httpx.Client) -> None:
    name = _sample(http)
    meter_id = meter(http, name, EARLIEST)
    assert value(http, meter_id, external_customer_id="c1") == Decimal("1.5")
    assert value(http, meter_id) == Decimal(100)  # every customer: c2's comes first
    assert value(http, meter_id, external_customer_id="c1", start_time=at(1)) == Decimal(2)
    # Partial hours at both edges and whole hours/days in between.
    assert value(
        http, meter_id, external_customer_id="c1", start_time=at(0.75), end_time=at(26.5)
    ) == Decimal(2)
    daily = usage(http, meter_id, external_customer_id="c1", window_size="DAY")
    assert [(row["window_size"], Decimal(str(row["value"]))) for row in daily["results"]] == [
        (at(), Decimal("1.5")),
        (at(24), Decimal(3)),
    ]
    assert http.get(f"/v1/meters/{meter_id}").json()["aggregation"] == EARLIEST


def test_ad_hoc_usage_statistics(http: httpx.Client) -> None:
    name = _sample(http)
    response = http.post(
        "/v1/events/usage",
        json={
            "event_name": name,
            "aggregation_type": "EARLIEST",
            "property_name": "tokens",
            "external_customer_id": "c1",
            "start_time": at(),
            "end_time": at(48),
        },
    )
    assert response.status_code == 200, response.text
    assert (response.json()["type"], Decimal(str(response.json()["value"]))) == (
        "EARLIEST",
        Decimal("1.5"),
    )
    missing = http.post(
        "/v1/events/usage",
        json={"event_name": name, "aggregation_type": "EARLIEST", "start_time": at()},
    )
    assert missing.status_code == 400
    assert "property_name" in missing.text


def test_tied_timestamps_go_to_the_event_ingested_first(http: httpx.Client) -> None:
    name = unique("tie")
    meter_id = meter(http, name, EARLIEST)
    for index, tokens in enumerate(["5", "7", "1"]):
        send(http, [{"event_name": name, "external_customer_id": "t", "event_id": f"{name}-{index}",
                     "timestamp": at(3), "properties": {"tokens": tokens}}])  # fmt: skip
    assert value(http, meter_id, external_customer_id="t") == Decimal(5)


def test_meters_refuse_earliest_without_a_field_and_the_openapi_lists_it(
    http: httpx.Client,
) -> None:
    response = http.post(
        "/v1/meters",
        json={"name": unique("m"), "event_name": "e", "aggregation": {"type": "EARLIEST"}},
    )
    assert response.status_code == 400, response.text
    assert "aggregation.field" in response.text
    document = http.get("/openapi.json").json()
    enum = document["components"]["schemas"]["AggregationIn"]["properties"]["type"]["enum"]
    assert "EARLIEST" in enum and "COUNT" in enum


def _subscribed(http: httpx.Client, *, limit: int | None) -> dict[str, Any]:
    customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()
    event_name = unique("seats")
    feature = http.post(
        "/v1/features",
        json={
            "name": "Seats",
            "type": "metered",
            "lookup_key": unique("seats"),
            "meter": {
                "name": "seats",
                "event_name": event_name,
                "aggregation": EARLIEST,
                "reset_usage": "BILLING_PERIOD",
            },
        },
    )
    assert feature.status_code == 201, feature.text
    plan = http.post("/v1/plans", json={"name": "P"}).json()
    common = {"entity_type": "PLAN", "entity_id": plan["id"], "price_unit_type": "FIAT"}
    common |= {"currency": "usd", "billing_period": "MONTHLY"}
    price = http.post(
        "/v1/prices",
        json={
            **common,
            "type": "USAGE",
            "meter_id": feature.json()["meter_id"],
            "billing_model": "FLAT_FEE",
            "amount": "2",
            "invoice_cadence": "ARREAR",
        },
    )
    assert price.status_code == 201, price.text
    if limit is not None:
        grant = http.post(
            "/v1/entitlements",
            json={
                "plan_id": plan["id"],
                "feature_id": feature.json()["id"],
                "feature_type": "metered",
                "usage_limit": limit,
                "usage_reset_period": "MONTHLY",
            },
        )
        assert grant.status_code == 201, grant.text
    now = datetime.now(UTC)
    sub = http.post(
        "/v1/subscriptions",
        json={"customer_id": customer["id"], "plan_id": plan["id"], "currency": "usd",
              "billing_period": "MONTHLY", "start_date": (now - timedelta(hours=1)).isoformat()},
    )  # fmt: skip
    assert sub.status_code == 201, sub.text
    send(
        http,
        [
            {"event_name": event_name, "external_customer_id": customer["external_id"],
             "timestamp": (now - timedelta(seconds=seconds)).isoformat(),
             "properties": {"tokens": tokens}}
            for seconds, tokens in ((30, "9"), (90, "4"), (60, "12"))
        ],
    )  # fmt: skip
    return {"customer": customer, "feature": feature.json(), "sub": sub.json()}


def test_entitlement_checks_read_the_earliest_value(http: httpx.Client) -> None:
    s = _subscribed(http, limit=10)
    check = http.post(
        "/v1/entitlements/check",
        json={"customer_id": s["customer"]["id"], "feature_id": s["feature"]["id"]},
    )
    assert check.status_code == 200, check.text
    body = check.json()
    assert (body["allowed"], body["usage"], body["remaining"]) == (True, "4", "6")
    summary = http.get("/v1/customers/usage", params={"customer_id": s["customer"]["id"]})
    assert summary.json()["features"][0]["current_usage"] == "4"
    consume = http.post(
        "/v1/entitlements/check",
        json={"customer_id": s["customer"]["id"], "feature_id": s["feature"]["id"],
              "consume": 1, "event_id": unique("consume")},
    )  # fmt: skip
    assert consume.status_code == 400  # no event adds a quantity to a first value
    assert "consume" in consume.text


def test_invoices_bill_the_earliest_value(http: httpx.Client) -> None:
    s = _subscribed(http, limit=None)
    preview = http.post("/v1/invoices/preview", json={"subscription_id": s["sub"]["id"]})
    assert preview.status_code == 200, preview.text
    lines = [line for line in preview.json()["line_items"] if line["price_type"] == "USAGE"]
    assert [(line["quantity"], line["amount"]) for line in lines] == [("4", "8")]
