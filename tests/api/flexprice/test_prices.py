"""Prices over HTTP and the SDK: models, versions, termination, lookups and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import unique


@pytest.fixture
def plan(http: httpx.Client) -> dict[str, Any]:
    return http.post("/v1/plans", json={"name": "P"}).json()


def _price(plan: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "entity_type": "PLAN",
        "entity_id": plan["id"],
        "type": "FIXED",
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_model": "FLAT_FEE",
        "amount": "10",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ADVANCE",
        **fields,
    }


def test_create_get_lookup_and_plan_id_alias(
    fp: Any, http: httpx.Client, plan: dict[str, Any]
) -> None:
    key = unique("basic")
    body = _price(plan, lookup_key=key, amount="0.02")
    del body["entity_type"], body["entity_id"]
    created = http.post("/v1/prices", json={**body, "plan_id": plan["id"]})
    assert created.status_code == 201, created.text
    price = fp.prices.get_price_by_lookup_key(lookup_key=key)
    assert price.amount == "0.02"
    assert price.display_amount == "$0.02"
    assert price.entity_type == "PLAN" and price.entity_id == plan["id"]
    assert fp.prices.get_price(id=price.id).lookup_key == key
    dup = http.post("/v1/prices", json=_price(plan, lookup_key=key))
    assert dup.status_code == 409
    assert dup.json()["code"] == "already_exists"


def test_pricing_change_creates_a_new_version(
    fp: Any, http: httpx.Client, plan: dict[str, Any]
) -> None:
    key = unique("v")
    old = http.post("/v1/prices", json=_price(plan, lookup_key=key)).json()
    renamed = fp.prices.update_price(id=old["id"], description="same price")
    assert renamed.id == old["id"]
    new = fp.prices.update_price(id=old["id"], amount="12.5")
    assert new.id != old["id"]
    assert new.amount == "12.5"
    assert new.parent_price_id == old["id"]
    assert new.lookup_key == key
    ended = fp.prices.get_price(id=old["id"])
    assert ended.end_date is not None
    listed = http.post("/v1/prices/search", json={"plan_ids": [plan["id"]]}).json()
    assert [p["id"] for p in listed["items"]] == [new.id]


def test_delete_terminates_once(http: httpx.Client, plan: dict[str, Any]) -> None:
    price = http.post("/v1/prices", json=_price(plan)).json()
    assert http.delete(f"/v1/prices/{price['id']}").json() == {
        "message": "price deleted successfully"
    }
    assert http.get(f"/v1/prices/{price['id']}").json()["end_date"] is not None
    again = http.delete(f"/v1/prices/{price['id']}")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_operation"


def test_bulk_is_all_or_nothing(http: httpx.Client, plan: dict[str, Any]) -> None:
    bad = http.post(
        "/v1/prices/bulk",
        json={"items": [_price(plan), _price(plan, amount="-1")]},
    )
    assert bad.status_code == 400
    assert bad.json()["details"]["field"] == "items[1].amount"
    assert http.post("/v1/prices/search", json={"plan_ids": [plan["id"]]}).json()["items"] == []
    ok = http.post("/v1/prices/bulk", json={"items": [_price(plan), _price(plan, amount="3")]})
    assert ok.status_code == 201
    assert [p["amount"] for p in ok.json()["items"]] == ["10", "3"]
    too_many = http.post("/v1/prices/bulk", json={"items": [_price(plan)] * 101})
    assert too_many.status_code == 400


TIERS = [{"up_to": 10, "unit_amount": "1"}, {"unit_amount": "0.5"}]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"billing_model": "TIERED", "tiers": TIERS}, "tier_mode"),
        (
            {
                "billing_model": "TIERED",
                "tier_mode": "SLAB",
                "tiers": [{"up_to": 10, "unit_amount": "1"}, {"up_to": 5, "unit_amount": "1"}],
            },
            "tiers[1].up_to",
        ),
        (
            {
                "billing_model": "TIERED",
                "tier_mode": "SLAB",
                "tiers": [{"unit_amount": "1"}, {"up_to": 5, "unit_amount": "1"}],
            },
            "tiers[0].up_to",
        ),
        (
            {"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": [{"unit_amount": "-1"}]},
            "tiers[0].unit_amount",
        ),
        ({"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": []}, "tiers"),
        ({"billing_model": "PACKAGE"}, "transform_quantity.divide_by"),
        (
            {
                "billing_model": "PACKAGE",
                "transform_quantity": {"divide_by": 10, "round": "sideways"},
            },
            "transform_quantity.round",
        ),
        ({"amount": "-5"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "dollars"}, "currency"),
        ({"currency": "xyz"}, "currency"),  # three letters, but no ISO 4217 code
        ({"currency": "xau"}, "currency"),  # ISO 4217, but no minor units (gold)
        ({"billing_period": "FORTNIGHTLY"}, "billing_period"),
        ({"billing_period": "ONETIME", "invoice_cadence": "ARREAR"}, "invoice_cadence"),
        ({"billing_period_count": 0}, "billing_period_count"),
        ({"type": "USAGE"}, "meter_id"),
        ({"trial_period_days": 7, "billing_period": "ONETIME"}, "trial_period_days"),
        ({"billing_model": "BESPOKE"}, "billing_model"),
    ],
)
def test_inconsistent_prices_are_rejected_naming_the_field(
    http: httpx.Client, plan: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    response = http.post("/v1/prices", json=_price(plan, **fields))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field


def test_unknown_plan_and_meter_are_not_found(http: httpx.Client, plan: dict[str, Any]) -> None:
    assert http.post("/v1/prices", json=_price(plan, entity_id="plan_nope")).status_code == 404
    usage = http.post(
        "/v1/prices",
        json=_price(plan, type="USAGE", meter_id="meter_nope", invoice_cadence="ARREAR"),
    )
    assert usage.status_code == 404
    assert usage.json()["code"] == "not_found"
    assert http.get("/v1/prices/price_nope").status_code == 404
