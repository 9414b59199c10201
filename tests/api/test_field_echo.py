"""Honoured SDK fields whose effect is that they are stored: each is sent, then read back.

The field inventory (test_field_inventory.py) names these tests for the fields they cover;
each test compares every field it sends with what a later read returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, unique


@pytest.fixture
def api(tenant: Tenant) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as client:
        yield client


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else {}


def mismatches(sent: dict[str, Any], read: dict[str, Any]) -> list[str]:
    return [f"{k}: sent {v!r}, read {read.get(k)!r}" for k, v in sent.items() if read.get(k) != v]


def entitlement_read(api: httpx.Client, key: str) -> dict[str, Any]:
    """An entitlement as read back, with its groups' slugs as the SDK sends them."""
    read = ok(api.get(f"/entitlements/{key}"))
    return {**read, "groupSlugs": [group["slug"] for group in read["entitlementGroups"]]}


def slug() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


# --- /v1 ------------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "address_line1": "1 Main St",
    "address_line2": "Floor 2",
    "address_city": "Lyon",
    "address_state": "Rhone",
    "address_postal_code": "69001",
    "address_country": "FR",
    "billing_currency": "eur",
    "contact": "+33 1 23 45 67 89",
    "email": "billing@example.com",
    "timezone": "Europe/Paris",
    "metadata": {"tier": "gold"},
}


def test_customer_fields_are_stored_on_create_and_update(http: httpx.Client) -> None:
    external_id = unique("cust")
    created = ok(
        http.post(
            "/v1/customers", json={"external_id": external_id, "name": "Echo Co", **CUSTOMER_FIELDS}
        )
    )
    read = ok(http.get(f"/v1/customers/{created['id']}"))
    assert (
        mismatches({"external_id": external_id, "name": "Echo Co", **CUSTOMER_FIELDS}, read) == []
    )
    changed = {
        "name": "Echo Two",
        "external_id": unique("cust2"),
        "address_line1": "2 Side St",
        "address_line2": "Suite 9",
        "address_city": "Nantes",
        "address_state": "Loire",
        "address_postal_code": "44000",
        "address_country": "DE",
        "billing_currency": "usd",
        "contact": "+49 30 1234",
        "email": "ap@example.org",
        "timezone": "Asia/Kolkata",
        "metadata": {"tier": "silver"},
    }
    ok(http.put("/v1/customers", params={"id": created["id"]}, json=changed))
    assert mismatches(changed, ok(http.get(f"/v1/customers/{created['id']}"))) == []


def test_plan_display_order_is_stored_on_create_update_and_clone(http: httpx.Client) -> None:
    plan = ok(
        http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p"), "display_order": 3})
    )
    assert ok(http.get(f"/v1/plans/{plan['id']}"))["display_order"] == 3
    ok(http.put(f"/v1/plans/{plan['id']}", json={"display_order": 7}))
    assert ok(http.get(f"/v1/plans/{plan['id']}"))["display_order"] == 7
    clone = ok(
        http.post(
            f"/v1/plans/{plan['id']}/clone",
            json={"name": "P2", "lookup_key": unique("p2"), "display_order": 9},
        )
    )
    assert ok(http.get(f"/v1/plans/{clone['id']}"))["display_order"] == 9


def test_feature_units_are_stored_on_create_and_update(http: httpx.Client) -> None:
    feature = ok(
        http.post(
            "/v1/features",
            json={
                "name": "Seats",
                "type": "boolean",
                "lookup_key": unique("f"),
                "unit_singular": "seat",
                "unit_plural": "seats",
            },
        )
    )
    read = ok(http.get(f"/v1/features/{feature['id']}"))
    assert (read["unit_singular"], read["unit_plural"]) == ("seat", "seats")
    ok(
        http.put(
            f"/v1/features/{feature['id']}", json={"unit_singular": "user", "unit_plural": "users"}
        )
    )
    read = ok(http.get(f"/v1/features/{feature['id']}"))
    assert (read["unit_singular"], read["unit_plural"]) == ("user", "users")


def test_wallet_fields_are_stored_on_create_update_and_top_up(http: httpx.Client) -> None:
    external_id = unique("cust")
    ok(http.post("/v1/customers", json={"external_id": external_id, "name": "W"}))
    sent = {
        "currency": "usd",
        "external_customer_id": external_id,
        "description": "main wallet",
        "wallet_type": "PRE_PAID",
        "topup_conversion_rate": "2",
    }
    wallet = ok(
        http.post(
            "/v1/wallets",
            json={
                **sent,
                "initial_credits_to_load": "10",
                "initial_credits_to_load_expiry_date": 20990101,
            },
        )
    )
    read = ok(http.get(f"/v1/wallets/{wallet['id']}"))
    assert mismatches({k: v for k, v in sent.items() if k != "external_customer_id"}, read) == []
    customer = ok(http.get("/v1/customers/lookup/" + external_id))
    assert read["customer_id"] == customer["id"]
    ok(
        http.put(
            f"/v1/wallets/{wallet['id']}",
            json={"description": "renamed", "config": {"allowed_price_types": ["USAGE"]}},
        )
    )
    read = ok(http.get(f"/v1/wallets/{wallet['id']}"))
    assert read["description"] == "renamed"
    assert read["config"]["allowed_price_types"] == ["USAGE"]
    ok(
        http.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            json={
                "credits_to_add": "5",
                "transaction_reason": "FREE_CREDIT_GRANT",
                "description": "bonus",
                "metadata": {"campaign": "spring"},
            },
        )
    )
    history = ok(http.get(f"/v1/wallets/{wallet['id']}/transactions"))["items"]
    top_up = next(t for t in history if t["description"] == "bonus")
    assert top_up["metadata"] == {"campaign": "spring"}
    initial = next(t for t in history if t is not top_up)
    assert initial["expiry_date"].startswith("2099-01-01")


def test_subscription_fields_are_stored(http: httpx.Client) -> None:
    external_id = unique("cust")
    ok(http.post("/v1/customers", json={"external_id": external_id, "name": "S"}))
    plan = ok(http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p")}))
    ok(
        http.post(
            "/v1/prices",
            json={
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
            },
        )
    )
    sent = {
        "lookup_key": unique("sub"),
        "metadata": {"source": "echo"},
        "billing_period_count": 1,
    }
    created = ok(
        http.post(
            "/v1/subscriptions",
            json={
                "external_customer_id": external_id,
                "plan_id": plan["id"],
                "currency": "usd",
                "billing_period": "MONTHLY",
                "billing_anchor": "2026-01-15T00:00:00Z",
                "start_date": "2026-01-15T00:00:00Z",
                "trial_period_days": 5,
                **sent,
            },
        )
    )
    read = ok(http.get(f"/v1/subscriptions/{created['id']}"))
    assert mismatches(sent, read) == []
    assert read["billing_anchor"].startswith("2026-01-15")
    trial = [datetime.fromisoformat(read[k]) for k in ("trial_start", "trial_end")]
    assert trial[1] - trial[0] == timedelta(days=5)
    ok(http.put(f"/v1/subscriptions/{created['id']}", json={"cancel_at_period_end": True}))
    read = ok(http.get(f"/v1/subscriptions/{created['id']}"))
    assert read["cancel_at_period_end"] is True and read["cancel_at"]


# --- /api -----------------------------------------------------------------------------------

ENTITLEMENT_FIELDS = {
    "description": "API calls per month",
    "type": "NUMBER",
    "aggregationMethod": "SUM",
    "resetPeriod": "MONTH",
    "resetAnchor": "CALENDAR",
    "warningThresholdPercent": 80,
    "userFacing": True,
    "displayOrder": 4,
    "icon": "lucide:bolt",
    "unitSingular": "call",
    "unitPlural": "calls",
    "saleUnitSingular": "pack",
    "saleUnitPlural": "packs",
    "saleUnitFactor": 1000,
}


def test_kaiten_entitlement_fields_are_stored_on_create_and_update(api: httpx.Client) -> None:
    group = slug()
    ok(api.post("/entitlement-groups", json={"name": "G", "slug": group, "description": "grp"}))
    key = slug()
    # The metering settings named here, not only in ENTITLEMENT_FIELDS, since the update
    # below changes each of them.
    metering = {
        "type": "NUMBER",
        "aggregationMethod": "SUM",
        "resetPeriod": "MONTH",
        "resetAnchor": "CALENDAR",
    }
    sent = {**ENTITLEMENT_FIELDS, **metering, "groupSlugs": [group]}
    ok(api.post("/entitlements", json={"name": "Calls", "slug": key, **sent}))
    assert mismatches(sent, entitlement_read(api, key)) == []
    changed = {
        **ENTITLEMENT_FIELDS,
        "name": "Calls 2",
        "description": "changed",
        # Restated: once set these cannot change, which is refused by name below.
        "type": "NUMBER",
        "aggregationMethod": "SUM",
        "resetPeriod": "MONTH",
        "resetAnchor": "CALENDAR",
        "warningThresholdPercent": 50,
        "userFacing": False,
        "displayOrder": 1,
        "icon": "lucide:star",
        "unitSingular": "request",
        "unitPlural": "requests",
        "saleUnitSingular": "bundle",
        "saleUnitPlural": "bundles",
        "saleUnitFactor": 10,
        "groupSlugs": [],
    }
    ok(api.put(f"/entitlements/{key}", json=changed))
    assert mismatches(changed, entitlement_read(api, key)) == []
    other = {
        "type": "BOOLEAN",
        "aggregationMethod": "MAX",
        "resetPeriod": "WEEK",
        "resetAnchor": "LICENSE_START",
    }
    for name, value in other.items():
        refused = api.put(f"/entitlements/{key}", json={**changed, name: value})
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["errors"][0]["location"] == f"body.{name}"
    assert mismatches(changed, entitlement_read(api, key)) == []


def test_kaiten_group_and_customer_fields_are_stored(api: httpx.Client) -> None:
    group = slug()
    ok(api.post("/entitlement-groups", json={"name": "G", "slug": group, "description": "d1"}))
    read = ok(api.get(f"/entitlement-groups/{group}"))
    assert (read["name"], read["slug"], read["description"]) == ("G", group, "d1")
    ok(api.put(f"/entitlement-groups/{group}", json={"name": "G2", "description": "d2"}))
    read = ok(api.get(f"/entitlement-groups/{group}"))
    assert (read["name"], read["description"]) == ("G2", "d2")
    member = slug()
    ok(
        api.post(
            "/entitlements",
            json={"name": "M", "slug": member, "type": "BOOLEAN", "description": ""},
        )
    )
    ok(api.post(f"/entitlement-groups/{group}/entitlements", json={"entitlementSlug": member}))
    assert entitlement_read(api, member)["groupSlugs"] == [group]

    sent = {
        "name": "Acme",
        "slug": slug(),
        "externalCustomerId": unique("crm"),
        "domain": "acme.io",
    }
    ok(api.post("/customers", json=sent))
    assert mismatches(sent, ok(api.get(f"/customers/{sent['slug']}"))) == []
    changed = {"name": "Acme 2", "externalCustomerId": unique("crm"), "domain": "acme.dev"}
    ok(api.put(f"/customers/{sent['slug']}", json=changed))
    assert mismatches(changed, ok(api.get(f"/customers/{sent['slug']}"))) == []


def test_kaiten_license_and_instance_fields_are_stored(api: httpx.Client) -> None:
    family = slug()
    first = ok(
        api.post(
            "/licenses", json={"name": "L", "slug": family, "type": "PAID", "versionName": "Winter"}
        )
    )
    assert ok(api.get(f"/licenses/{family}"))["versionName"] == "Winter"
    second = ok(
        api.post("/licenses", json={"name": "L", "type": "PAID", "familyId": first["familyId"]})
    )
    assert (
        second["familyId"] == first["familyId"]
        and int(second["version"]) == int(first["version"]) + 1
    )
    ok(
        api.put(
            f"/licenses/{family}",
            json={"name": "L", "type": "PAID", "description": "desc", "versionName": "Spring"},
        )
    )
    read = ok(api.get(f"/licenses/{family}"))
    assert (read["description"], read["versionName"]) == ("desc", "Spring")

    feature = slug()
    ok(
        api.post(
            "/entitlements",
            json={"name": "N", "slug": feature, "type": "NUMBER", "description": ""},
        )
    )
    ok(
        api.post(
            f"/licenses/{family}/entitlements",
            json={
                "entitlementSlug": feature,
                "value": {"type": "number", "value": 5},
                "limitCapExceededOveragePercent": 20,
            },
        )
    )
    grant = ok(api.get(f"/licenses/{family}/entitlements/{feature}"))
    assert grant["limitCapExceededOveragePercent"] == 20

    customer = ok(api.post("/customers", json={"name": "C"}))
    instance = slug()
    sent = {
        "name": "I",
        "slug": instance,
        "description": "prod",
        "customerId": customer["id"],
        "licenseId": first["id"],
        "startLicenseDate": "2026-01-01T00:00:00Z",
        "endLicenseDate": "2036-01-01T00:00:00Z",
        "metadata": {"region": "eu"},
    }
    ok(api.post("/instances", json=sent))
    assert mismatches(sent, ok(api.get(f"/instances/{instance}"))) == []
    changed = {**sent, "description": "staging", "metadata": {"region": "us"}}
    ok(api.put(f"/instances/{instance}", json=changed))
    assert mismatches(changed, ok(api.get(f"/instances/{instance}"))) == []
