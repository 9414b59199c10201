"""Plans through the SDK: create, update, search, clone, archive."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import unique


def test_plan_lifecycle_and_clone(fp: Any, http: httpx.Client) -> None:
    key = unique("pro")
    plan = fp.plans.create_plan(name="Pro", lookup_key=key, description="d", metadata={"a": "b"})
    assert plan.id.startswith("plan_")
    assert plan.prices == [] and plan.entitlements == []
    flag = http.post(
        "/v1/features", json={"name": "F", "type": "boolean", "lookup_key": unique("f")}
    ).json()
    fp.entitlements.create_entitlement(
        plan_id=plan.id, feature_id=flag["id"], feature_type="boolean", is_enabled=True
    )
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        type_="FIXED",
        price_unit_type="FIAT",
        currency="eur",
        billing_model="FLAT_FEE",
        amount="9",
        billing_period="ANNUAL",
        billing_period_count=1,
        invoice_cadence="ADVANCE",
        trial_period_days=14,
    )
    updated = fp.plans.update_plan(id=plan.id, name="Pro 2")
    assert updated.name == "Pro 2" and updated.lookup_key == key
    found = fp.plans.query_plan(plan_ids=[plan.id])
    assert [p.name for p in found.items] == ["Pro 2"]
    clone = fp.plans.clone_plan(id=plan.id, name="Pro copy", lookup_key=unique("copy"))
    assert clone.id != plan.id
    assert [p.amount for p in clone.prices] == ["9"]
    assert clone.prices[0].trial_period_days == 14
    assert clone.prices[0].display_amount == "€9"
    assert [e.feature_id for e in clone.entitlements] == [flag["id"]]
    assert len(fp.entitlements.get_plan_entitlements(id=clone.id).items) == 1
    dup = http.post("/v1/plans", json={"name": "X", "lookup_key": key})
    assert dup.status_code == 409
    assert fp.plans.delete_plan(id=plan.id).message == "plan deleted successfully"
    assert fp.plans.query_plan(plan_ids=[plan.id]).items == []
    assert http.get(f"/v1/plans/{plan.id}").json()["status"] == "archived"
    assert http.post("/v1/plans", json={"name": "Y", "lookup_key": key}).status_code == 201


def test_plan_bad_input(http: httpx.Client) -> None:
    assert http.post("/v1/plans", json={}).status_code == 400
    assert http.post("/v1/plans", json={"name": ""}).status_code == 400
    missing = http.get("/v1/plans/plan_nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert http.post("/v1/plans/search", json={"limit": 5000}).status_code == 400
