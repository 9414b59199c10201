"""``environments.clone_environment`` through the SDK: the catalog (meters, features,
plans, prices, entitlements, coupons, tax rates) copied with new ids and the same lookup
keys, references pointing at the copies, a report of what was copied, and a 409 listing
the lookup keys a target already holds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors as fp_errors

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Tenant, unique


def _key_of(http: httpx.Client, environment_id: str) -> str:
    made = http.post("/v1/secrets/api/keys", json={"name": "t", "environment_id": environment_id})
    assert made.status_code == 201, made.text
    return str(made.json()["api_key"])


def _catalog(http: httpx.Client) -> dict[str, Any]:
    features = http.get("/v1/features").json()["items"]
    plans = http.get("/v1/plans").json()["items"]
    prices = http.get("/v1/prices").json()["items"]
    entitlements = http.get("/v1/entitlements").json()["items"]
    coupons = http.get("/v1/coupons").json()["items"]
    rates = http.get("/v1/taxes/rates").json()["items"]
    return {
        "features": features,
        "plans": plans,
        "prices": prices,
        "entitlements": entitlements,
        "coupons": coupons,
        "rates": rates,
    }


def test_clone_copies_the_catalog_with_new_ids_and_refuses_existing_keys(
    tenant: Tenant, fp: Flexprice, http: httpx.Client
) -> None:
    feature = tokens_feature(fp)
    plan = fp.plans.create_plan(name="Pro", lookup_key=unique("pro"))
    price = plan_price(
        fp,
        plan.id,
        type_="USAGE",
        billing_model="FLAT_FEE",
        amount="0.002",
        invoice_cadence="ARREAR",
        meter_id=feature.meter_id,
        lookup_key=unique("pro-tokens"),
    )
    fp.entitlements.create_entitlement(
        plan_id=plan.id,
        feature_id=feature.id,
        feature_type="metered",
        usage_limit=1000,
        usage_reset_period="MONTHLY",
    )
    coupon = fp.coupons.create_coupon(
        name="Launch",
        type_="percentage",
        cadence="once",
        percentage_off="15",
        coupon_code=unique("LAUNCH"),
    )
    rate = fp.tax_rates.create_tax_rate(
        code=unique("vat"),
        name="VAT",
        percentage_value="19",
        tax_rate_type="percentage",
        scope="INTERNAL",
    )

    answer = fp.environments.clone_environment(
        id=tenant.environment_id, name=unique("staging"), type_="development"
    )
    assert answer.workflow_id and "Cloned into" in (answer.message or "")
    raw = http.post(
        f"/v1/environments/{tenant.environment_id}/clone",
        json={"name": unique("staging"), "type": "development"},
    ).json()
    assert raw["copied"] == {
        "meters": 1,
        "features": 1,
        "plans": 1,
        "prices": 1,
        "entitlements": 1,
        "coupons": 1,
        "tax_rates": 1,
    }
    assert raw["lookup_keys"]["features"] == [feature.lookup_key]
    assert raw["lookup_keys"]["coupons"] == [coupon.coupon_code]
    target = raw["target_environment_id"]
    assert target != tenant.environment_id

    with httpx.Client(
        base_url=tenant.server.base_url, headers={"x-api-key": _key_of(http, target)}, timeout=30
    ) as there:
        copied = _catalog(there)
    [f] = copied["features"]
    [p] = copied["plans"]
    [pr] = copied["prices"]
    [e] = copied["entitlements"]
    [c] = copied["coupons"]
    [r] = copied["rates"]
    assert (f["lookup_key"], p["lookup_key"], pr["lookup_key"]) == (
        feature.lookup_key,
        plan.lookup_key,
        price.lookup_key,
    )
    assert f["id"] != feature.id and p["id"] != plan.id and pr["id"] != price.id
    assert f["meter_id"] != feature.meter_id and pr["meter_id"] == f["meter_id"]
    assert (pr["entity_id"], pr["amount"]) == (p["id"], "0.002")
    assert (e["plan_id"], e["feature_id"], e["usage_limit"]) == (p["id"], f["id"], 1000)
    assert (c["coupon_code"], c["id"]) == (coupon.coupon_code, c["id"]) and c["id"] != coupon.id
    assert (r["code"], r["percentage_value"]) == (rate.code, "19")

    # Again into the same target: every key already there is named, nothing is copied.
    with pytest.raises(fp_errors.FlexpriceError) as refused:
        fp.environments.clone_environment(id=tenant.environment_id, target_environment_id=target)
    assert refused.value.status_code == 409
    conflict = http.post(
        f"/v1/environments/{tenant.environment_id}/clone", json={"target_environment_id": target}
    )
    assert conflict.status_code == 409
    for key in (
        feature.lookup_key,
        plan.lookup_key,
        price.lookup_key,
        coupon.coupon_code,
        rate.code,
    ):
        assert key in conflict.text

    for body, field in (
        ({}, "name"),
        ({"name": "x"}, "type"),
        ({"target_environment_id": tenant.environment_id}, "target_environment_id"),
    ):
        bad = http.post(f"/v1/environments/{tenant.environment_id}/clone", json=body)
        assert bad.status_code == 400 and field in bad.text, bad.text
    assert (
        http.post(
            "/v1/environments/env_missing/clone", json={"name": "x", "type": "development"}
        ).status_code
        == 404
    )
    # A key that may not act on other environments may not clone into one.
    limited = http.post(
        "/v1/secrets/api/keys", json={"name": "admin", "scopes": ["read:*", "write:billing"]}
    ).json()["api_key"]
    with tenant.server.client(limited) as admin:
        denied = admin.post(
            f"/v1/environments/{tenant.environment_id}/clone",
            json={"target_environment_id": target},
        )
        assert denied.status_code == 403
