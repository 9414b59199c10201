"""The whole catalogue → subscription → usage flow, driven by the official flexprice SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.conftest import unique

# Two recent months, oldest first (a subscription may start at most a year back).
_THIS = datetime.now(UTC).year * 12 + datetime.now(UTC).month - 1
_MONTHS = [f"{y:04d}-{m + 1:02d}" for y, m in (divmod(_THIS - back, 12) for back in (3, 2))]


def _catalogue(fp: Any, external_id: str) -> dict[str, Any]:
    customer = fp.customers.create_customer(external_id=external_id, name="Smoke")
    tokens = fp.features.create_feature(
        name="API Tokens",
        type_="metered",
        lookup_key=unique("api_tokens"),
        meter={
            "name": "api_tokens",
            "event_name": "api_call",
            "aggregation": {"type": "SUM", "field": "tokens"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    sso = fp.features.create_feature(name="SSO", type_="boolean", lookup_key=unique("sso"))
    tier = fp.features.create_feature(name="Support", type_="static", lookup_key=unique("support"))
    plan = fp.plans.create_plan(name="Pro", lookup_key=unique("pro"))
    common = {
        "entity_type": "PLAN",
        "entity_id": plan.id,
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
    }
    flat = fp.prices.create_price(
        **common, type_="FIXED", billing_model="FLAT_FEE", amount="10", invoice_cadence="ADVANCE"
    )
    usage = {**common, "type_": "USAGE", "meter_id": tokens.meter_id, "invoice_cadence": "ARREAR"}
    slab = fp.prices.create_price(
        **usage,
        billing_model="TIERED",
        tier_mode="SLAB",
        tiers=[{"up_to": 1000, "unit_amount": "0.01"}, {"unit_amount": "0.005"}],
    )
    package = fp.prices.create_price(
        **usage,
        billing_model="PACKAGE",
        amount="1",
        transform_quantity={"divide_by": 100, "round": "up"},
    )
    volume = fp.prices.create_price(
        **usage,
        billing_model="TIERED",
        tier_mode="VOLUME",
        tiers=[
            {"up_to": 1000, "unit_amount": "0.01", "flat_amount": "5"},
            {"unit_amount": "0.008", "flat_amount": "10"},
        ],
    )
    metered = fp.entitlements.create_entitlement(
        plan_id=plan.id,
        feature_id=tokens.id,
        feature_type="metered",
        is_enabled=True,
        usage_limit=500,
        usage_reset_period="MONTHLY",
    )
    fp.entitlements.create_entitlement(
        plan_id=plan.id, feature_id=sso.id, feature_type="boolean", is_enabled=True
    )
    fp.entitlements.create_entitlement(
        plan_id=plan.id, feature_id=tier.id, feature_type="static", static_value="premium"
    )
    return {
        "customer": customer,
        "tokens": tokens,
        "sso": sso,
        "tier": tier,
        "plan": plan,
        "prices": {"flat": flat, "slab": slab, "package": package, "volume": volume},
        "metered": metered,
    }


def test_plan_prices_entitlements_subscription_usage_and_cancel(fp: Any) -> None:
    external_id = unique("smoke")
    c = _catalogue(fp, external_id)
    plan, prices = c["plan"], c["prices"]
    assert prices["flat"].amount == "10"
    assert prices["flat"].display_amount == "$10"
    assert prices["slab"].tiers[0].unit_amount == "0.01"
    assert prices["package"].transform_quantity.divide_by == 100
    assert c["metered"].usage_limit == 500

    embedded = fp.plans.get_plan(id=plan.id)
    assert {p.id for p in embedded.prices} == {p.id for p in prices.values()}
    assert len(embedded.entitlements) == 3
    assert len(fp.entitlements.query_entitlement(plan_ids=[plan.id]).items) == 3
    assert (
        len(fp.entitlements.query_entitlement(plan_ids=[plan.id], feature_type="metered").items)
        == 1
    )

    sub = fp.subscriptions.create_subscription(
        customer_id=c["customer"].id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        billing_cycle="anniversary",
    )
    assert sub.subscription_status == "active"
    assert len(sub.line_items) == 4
    assert sorted(i.quantity for i in sub.line_items) == ["0", "0", "0", "1"]
    assert sub.current_period_start is not None and sub.current_period_end is not None

    events = [
        {
            "event_name": "api_call",
            "external_customer_id": external_id,
            "event_id": f"{external_id}-{i}",
            "properties": {"tokens": "100"},
        }
        for i in range(20)
    ]
    fp.events.ingest_events_bulk(events=events)
    fp.events.ingest_events_bulk(events=events)  # re-sent: changes nothing

    usage = fp.subscriptions.get_subscription_usage(subscription_id=sub.id)
    by_price = {charge.price.id: charge for charge in usage.charges}
    assert by_price[prices["slab"].id].quantity == 2000.0
    assert by_price[prices["slab"].id].amount == 15.0  # 1000 × 0.01 + 1000 × 0.005
    assert by_price[prices["package"].id].amount == 20.0  # 20 packages of 100
    assert by_price[prices["volume"].id].amount == 26.0  # 2000 × 0.008 + 10
    assert usage.amount == 61.0
    assert usage.display_amount == "$61"
    assert usage.currency == "usd"

    summary = fp.customers.get_customer_usage_summary(customer_id=c["customer"].id)
    assert [f.feature.id for f in summary.features] == [
        c["tokens"].id,
        c["tier"].id,
        c["sso"].id,
    ]
    tokens = summary.features[0]
    assert tokens.current_usage == "2000"
    assert tokens.total_limit == 500
    assert tokens.is_unlimited is False
    assert tokens.usage_percent == "4"
    assert tokens.next_usage_reset_at == sub.current_period_end
    assert tokens.sources[0].subscription_id == sub.id

    only_tokens = fp.customers.get_customer_usage_summary(
        customer_lookup_key=external_id, feature_ids=[c["tokens"].id]
    )
    assert [f.current_usage for f in only_tokens.features] == ["2000"]

    ents = fp.customers.get_customer_entitlements(id=c["customer"].id)
    by_feature = {f.feature.id: f.entitlement for f in ents.features}
    assert by_feature[c["tokens"].id].usage_limit == 500
    assert by_feature[c["sso"].id].is_enabled is True
    assert by_feature[c["tier"].id].static_values == ["premium"]

    sub_ents = fp.subscriptions.get_subscription_entitlements(id=sub.id)
    assert len(sub_ents.features) == 3

    cancelled = fp.subscriptions.cancel_subscription(
        id=sub.id,
        cancellation_type="immediate",
        cancel_immediately_invoice_policy="generate_invoice",
    )
    assert cancelled.status == "cancelled"
    assert fp.subscriptions.get_subscription(id=sub.id).subscription_status == "cancelled"
    after = fp.customers.get_customer_usage_summary(customer_id=c["customer"].id)
    assert after.features == []
    with pytest.raises(errors.ErrorResponse) as again:
        fp.subscriptions.cancel_subscription(id=sub.id, cancellation_type="immediate")
    assert again.value.data.code == "invalid_operation"


def test_subscription_override_wins_over_the_plan_grant(fp: Any, http: httpx.Client) -> None:
    external_id = unique("override")
    c = _catalogue(fp, external_id)
    sub = fp.subscriptions.create_subscription(
        external_customer_id=external_id,
        plan_id=c["plan"].id,
        currency="USD",
        billing_period="MONTHLY",
    )
    assert sub.currency == "usd"
    override = http.post(
        "/v1/entitlements",
        json={
            "entity_type": "SUBSCRIPTION",
            "entity_id": sub.id,
            "feature_id": c["tokens"].id,
            "feature_type": "metered",
            "usage_limit": 5000,
            "usage_reset_period": "MONTHLY",
        },
    )
    assert override.status_code == 201, override.text
    summary = fp.customers.get_customer_usage_summary(customer_id=c["customer"].id)
    assert summary.features[0].total_limit == 5000
    assert summary.features[0].sources[0].entity_type == "subscription"


def test_calendar_billing_and_the_misspelt_cancel_key(fp: Any, http: httpx.Client) -> None:
    external_id = unique("cal")
    c = _catalogue(fp, external_id)
    response = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": c["customer"].id,
            "plan_id": c["plan"].id,
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_cycle": "calendar",
            "start_date": f"{_MONTHS[0]}-15T10:00:00Z",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["billing_anchor"] == f"{_MONTHS[1]}-01T00:00:00Z"
    assert body["start_date"] == f"{_MONTHS[0]}-15T10:00:00Z"
    scheduled = http.post(
        f"/v1/subscriptions/{body['id']}/cancel",
        json={"cancellation_type": "end_of_period", "cancel_immediately_inovice_policy": "skip"},
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "active"
    bad = http.post(
        f"/v1/subscriptions/{body['id']}/cancel",
        json={"cancellation_type": "immediate", "cancel_immediately_inovice_policy": "maybe"},
    )
    assert bad.status_code == 400
    assert bad.json()["details"]["field"] == "cancel_immediately_invoice_policy"


def test_subscription_bad_input(fp: Any, http: httpx.Client) -> None:
    external_id = unique("bad")
    c = _catalogue(fp, external_id)
    base = {
        "customer_id": c["customer"].id,
        "plan_id": c["plan"].id,
        "currency": "usd",
        "billing_period": "MONTHLY",
    }
    no_prices = http.post("/v1/subscriptions", json={**base, "currency": "eur"})
    assert no_prices.status_code == 400
    assert no_prices.json()["code"] == "validation_error"
    missing_plan = http.post("/v1/subscriptions", json={**base, "plan_id": "plan_missing"})
    assert missing_plan.status_code == 404
    assert missing_plan.json()["code"] == "not_found"
    missing_customer = http.post("/v1/subscriptions", json={**base, "customer_id": "cust_missing"})
    assert missing_customer.status_code == 404
    bad_period = http.post("/v1/subscriptions", json={**base, "billing_period": "HOURLY"})
    assert bad_period.status_code == 400
    assert bad_period.json()["details"]["field"] == "billing_period"
    anchor_on_calendar = http.post(
        "/v1/subscriptions",
        json={**base, "billing_cycle": "calendar", "billing_anchor": "2024-01-01T00:00:00Z"},
    )
    assert anchor_on_calendar.status_code == 400
    assert http.delete(f"/v1/plans/{c['plan'].id}").status_code == 200
    archived = http.post("/v1/subscriptions", json=base)
    assert archived.status_code == 400
    assert archived.json()["details"]["field"] == "plan_id"
    listed = http.post("/v1/subscriptions/search", json={"customer_id": c["customer"].id})
    assert listed.json()["pagination"]["total"] == 0  # nothing half-written


def test_draft_subscription_is_activated(fp: Any, http: httpx.Client) -> None:
    c = _catalogue(fp, unique("draft"))
    created = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": c["customer"].id,
            "plan_id": c["plan"].id,
            "currency": "usd",
            "billing_period": "MONTHLY",
            "subscription_status": "draft",
        },
    ).json()
    assert created["subscription_status"] == "draft"
    activated = fp.subscriptions.activate_subscription(
        id=created["id"], start_date=datetime.fromisoformat(f"{_MONTHS[0]}-01T00:00:00+00:00")
    )
    assert activated.subscription_status == "active"
    assert activated.start_date == datetime.fromisoformat(f"{_MONTHS[0]}-01T00:00:00+00:00")
    again = http.post(f"/v1/subscriptions/{created['id']}/activate", json={})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_operation"
