"""POST /v1/entitlements/check: answers from grants and write-time aggregates, and an
atomic check-and-consume that concurrent callers cannot push past a hard limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import Tenant, unique


def _setup(
    http: httpx.Client, *, limit: int | None, soft: bool = False, aggregation: str = "SUM"
) -> dict[str, Any]:
    external_id = unique("cust")
    customer = http.post("/v1/customers", json={"external_id": external_id, "name": "C"}).json()
    meter: dict[str, Any] = {
        "name": "calls",
        "event_name": unique("call"),
        "aggregation": {"type": aggregation, **({"field": "n"} if aggregation == "SUM" else {})},
        "reset_usage": "BILLING_PERIOD",
    }
    feature = http.post(
        "/v1/features",
        json={"name": "Calls", "type": "metered", "lookup_key": unique("calls"), "meter": meter},
    ).json()
    flag = http.post(
        "/v1/features", json={"name": "Flag", "type": "boolean", "lookup_key": unique("flag")}
    ).json()
    plan = http.post("/v1/plans", json={"name": "P"}).json()
    price = http.post(
        "/v1/prices",
        json={
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "type": "FIXED",
            "price_unit_type": "FIAT",
            "currency": "usd",
            "billing_model": "FLAT_FEE",
            "amount": "5",
            "billing_period": "MONTHLY",
            "invoice_cadence": "ADVANCE",
        },
    )
    assert price.status_code == 201, price.text
    grant = http.post(
        "/v1/entitlements",
        json={
            "plan_id": plan["id"],
            "feature_id": feature["id"],
            "feature_type": "metered",
            "usage_limit": limit,
            "usage_reset_period": "MONTHLY",
            "is_soft_limit": soft,
        },
    )
    assert grant.status_code == 201, grant.text
    http.post(
        "/v1/entitlements",
        json={
            "plan_id": plan["id"],
            "feature_id": flag["id"],
            "feature_type": "boolean",
            "is_enabled": False,
        },
    )
    sub = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    assert sub.status_code == 201, sub.text
    return {
        "customer": customer,
        "feature": feature,
        "flag": flag,
        "meter_event": meter["event_name"],
        "sub": sub.json(),
        "grant": grant.json(),
    }


def _check(http: httpx.Client, s: dict[str, Any], **extra: Any) -> httpx.Response:
    return http.post(
        "/v1/entitlements/check",
        json={"customer_id": s["customer"]["id"], "feature_id": s["feature"]["id"], **extra},
    )


def test_fifty_concurrent_consumers_never_pass_a_hard_limit(tenant: Tenant) -> None:
    with tenant.client() as http:
        s = _setup(http, limit=20)

    def consume(i: int) -> bool:
        with tenant.client() as client:
            response = _check(client, s, consume=1, event_id=f"consume-{i}")
            assert response.status_code == 200, response.text
            return bool(response.json()["allowed"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(consume, range(50)))
    assert results.count(True) == 20
    with tenant.client() as http:
        after = _check(http, s).json()
        assert after["usage"] == "20"
        assert after["remaining"] == "0"
        assert after["allowed"] is False
        assert after["reason"] == "limit_exceeded"
        summary = http.get(
            "/v1/customers/usage", params={"customer_id": s["customer"]["id"]}
        ).json()
        assert summary["features"][0]["current_usage"] == "20"


def test_check_reports_usage_limit_and_reset(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    http.post(
        "/v1/events/bulk",
        json={
            "events": [
                {
                    "event_name": s["meter_event"],
                    "external_customer_id": s["customer"]["external_id"],
                    "properties": {"n": "3"},
                }
                for _ in range(2)
            ]
        },
    )
    body = _check(http, s).json()
    assert body["allowed"] is True
    assert body["usage"] == "6"
    assert body["limit"] == "10"
    assert body["remaining"] == "4"
    assert body["is_soft_limit"] is False
    assert body["resets_at"] == s["sub"]["current_period_end"]

    too_much = _check(http, s, consume=5).json()
    assert too_much["allowed"] is False
    assert too_much["usage"] == "6"
    fits = _check(http, s, consume="4", event_id="fits-1").json()
    assert fits["allowed"] is True
    assert fits["usage"] == "10"
    assert fits["consumed"] == "4"


def test_consume_is_idempotent_on_event_id(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    first = _check(http, s, consume=3, event_id="same").json()
    again = _check(http, s, consume=3, event_id="same").json()
    assert first["allowed"] is True and first["usage"] == "3"
    assert again["allowed"] is True and again["duplicate"] is True
    assert again["usage"] == "3"
    events = http.get(
        "/v1/events", params={"external_customer_id": s["customer"]["external_id"]}
    ).json()
    assert events["total_count"] == 1


def test_soft_limit_allows_and_reports_overage(http: httpx.Client) -> None:
    s = _setup(http, limit=2, soft=True)
    body = _check(http, s, consume=5).json()
    assert body["allowed"] is True
    assert body["reason"] == "soft_limit_exceeded"
    assert body["usage"] == "5"
    assert body["remaining"] == "0"
    assert body["is_soft_limit"] is True


def test_unlimited_and_count_meters(http: httpx.Client) -> None:
    s = _setup(http, limit=None, aggregation="COUNT")
    body = _check(http, s, consume=3, event_id="c").json()
    assert body["allowed"] is True
    assert body["usage"] == "3"
    assert body["limit"] is None and body["remaining"] is None
    assert body["is_unlimited"] is True
    fraction = _check(http, s, consume="1.5")
    assert fraction.status_code == 400
    assert fraction.json()["details"]["field"] == "consume"


def test_boolean_answers_from_the_grant_and_bad_input(http: httpx.Client) -> None:
    s = _setup(http, limit=1)
    flag = http.post(
        "/v1/entitlements/check",
        json={
            "external_customer_id": s["customer"]["external_id"],
            "feature_lookup_key": s["flag"]["lookup_key"],
        },
    ).json()
    assert flag["allowed"] is False
    assert flag["reason"] == "disabled"
    assert _check(http, s, consume=0).status_code == 400
    assert _check(http, s, consume=-1).status_code == 400
    missing = http.post(
        "/v1/entitlements/check",
        json={"customer_id": "cust_nope", "feature_id": s["feature"]["id"]},
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    no_feature = http.post("/v1/entitlements/check", json={"customer_id": s["customer"]["id"]})
    assert no_feature.status_code == 400
    stranger = http.post("/v1/customers", json={"external_id": unique("s"), "name": "S"}).json()
    none = http.post(
        "/v1/entitlements/check",
        json={"customer_id": stranger["id"], "feature_id": s["feature"]["id"], "consume": 1},
    ).json()
    assert none["allowed"] is False
    assert none["reason"] == "no_entitlement"
