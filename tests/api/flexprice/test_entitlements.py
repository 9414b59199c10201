"""Entitlements through the SDK: types, limits, bulk, search, update, delete, bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import unique


@pytest.fixture
def world(http: httpx.Client) -> dict[str, Any]:
    plan = http.post("/v1/plans", json={"name": "P"}).json()
    metered = http.post(
        "/v1/features",
        json={
            "name": "Calls",
            "type": "metered",
            "lookup_key": unique("calls"),
            "meter": {
                "name": "c",
                "event_name": unique("e"),
                "aggregation": {"type": "COUNT"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    static = http.post(
        "/v1/features", json={"name": "Tier", "type": "static", "lookup_key": unique("t")}
    ).json()
    config = http.post(
        "/v1/features", json={"name": "Cfg", "type": "config", "lookup_key": unique("c")}
    ).json()
    return {"plan": plan, "metered": metered, "static": static, "config": config}


def test_crud_search_and_types(fp: Any, http: httpx.Client, world: dict[str, Any]) -> None:
    plan = world["plan"]
    bulk = fp.entitlements.create_entitlements_bulk(
        items=[
            {
                "plan_id": plan["id"],
                "feature_id": world["metered"]["id"],
                "feature_type": "metered",
                "usage_limit": 100,
                "usage_reset_period": "DAILY",
                "is_soft_limit": True,
            },
            {
                "plan_id": plan["id"],
                "feature_id": world["static"]["id"],
                "feature_type": "static",
                "static_value": "gold",
            },
        ]
    )
    assert [e.usage_limit for e in bulk.items] == [100, None]
    metered = bulk.items[0]
    assert metered.usage_reset_period == "DAILY" and metered.is_soft_limit is True
    config = http.post(
        "/v1/entitlements",
        json={
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "feature_id": world["config"]["id"],
            "feature_type": "config",
            "config_value": {"region": "eu"},
        },
    )
    assert config.status_code == 201
    assert config.json()["config_value"] == {"region": "eu"}
    assert config.json()["is_enabled"] is True

    assert fp.entitlements.get_entitlement(id=metered.id).usage_limit == 100
    # The SDK drops None arguments, so "unlimited" is sent as raw JSON null.
    unlimited = http.put(f"/v1/entitlements/{metered.id}", json={"usage_limit": None})
    assert unlimited.json()["usage_limit"] is None
    assert fp.entitlements.update_entitlement(id=metered.id, usage_limit=7).usage_limit == 7
    # A field not sent is left alone: only an explicit null means unlimited.
    kept = http.put(f"/v1/entitlements/{metered.id}", json={"is_soft_limit": False})
    assert kept.json()["usage_limit"] == 7 and kept.json()["is_soft_limit"] is False

    found = fp.entitlements.query_entitlement(plan_ids=[plan["id"]], feature_type="static")
    assert [e.static_value for e in found.items] == ["gold"]
    listed = http.get("/v1/entitlements", params={"plan_ids": plan["id"], "limit": 2}).json()
    assert listed["pagination"] == {"total": 3, "limit": 2, "offset": 0}

    assert (
        fp.entitlements.delete_entitlement(id=metered.id).message
        == "entitlement deleted successfully"
    )
    assert len(fp.entitlements.get_plan_entitlements(id=plan["id"]).items) == 2
    again = http.post(
        "/v1/entitlements",
        json={
            "plan_id": plan["id"],
            "feature_id": world["metered"]["id"],
            "feature_type": "metered",
            "usage_limit": 1,
        },
    )
    assert again.status_code == 201  # the archived grant no longer blocks a new one


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"feature_type": "metered", "usage_limit": -1}, 400, "usage_limit"),
        ({"feature_type": "boolean"}, 400, "feature_type"),
        ({"feature_type": "metered", "usage_reset_period": "HOURLY"}, 400, "usage_reset_period"),
        ({"feature_type": "metered", "static_value": "x"}, 400, "static_value"),
        ({"feature_type": "metered", "config_value": {"a": 1}}, 400, "config_value"),
        ({"feature_type": "metered", "plan_id": None}, 400, "entity_id"),
        ({"feature_type": "metered", "plan_id": "plan_nope"}, 404, None),
        ({"feature_type": "metered", "feature_id": "feat_nope"}, 404, None),
    ],
)
def test_bad_grants_are_rejected(
    http: httpx.Client,
    world: dict[str, Any],
    fields: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    body = {"plan_id": world["plan"]["id"], "feature_id": world["metered"]["id"], **fields}
    response = http.post("/v1/entitlements", json=body)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["details"]["field"] == field


def test_static_needs_a_value_and_duplicates_conflict(
    http: httpx.Client, world: dict[str, Any]
) -> None:
    base = {
        "plan_id": world["plan"]["id"],
        "feature_id": world["static"]["id"],
        "feature_type": "static",
    }
    assert http.post("/v1/entitlements", json=base).status_code == 400
    assert http.post("/v1/entitlements", json={**base, "static_value": "a"}).status_code == 201
    dup = http.post("/v1/entitlements", json={**base, "static_value": "b"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "already_exists"
