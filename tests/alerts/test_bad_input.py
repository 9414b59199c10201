"""Alert settings that cannot be evaluated are refused with a 400 naming the field, and
nothing is written; entities of another kind or environment are 404."""

from __future__ import annotations

from typing import Any

import httpx
from flexprice import Flexprice

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Tenant, new_tenant, unique


def test_settings_that_cannot_be_evaluated_are_refused_by_name(
    fp: Flexprice, http: httpx.Client, tenant: Tenant
) -> None:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Bad Co")
    feature = tokens_feature(fp, event="bad")
    plan = fp.plans.create_plan(name="Metered", lookup_key=unique("plan"))
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="FLAT_FEE",
        amount="0.01",
        invoice_cadence="ARREAR",
    )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    [item] = fp.subscriptions.get_subscription(id=sub.id).line_items or []
    over = {"critical": {"condition": "above", "threshold": "5"}}

    def create(**body: Any) -> httpx.Response:
        return http.post("/v1/alerts/setting", json={"config": over, **body})

    for body, field in (
        ({"entity_type": "group", "entity_id": "grp_1"}, "entity_type"),
        ({"entity_type": "feature", "entity_id": feature.id}, "entity_type"),
        (
            {
                "entity_type": "subscription",
                "entity_id": sub.id,
                "config": {"alert_threshold_type": "percentage", "critical": over["critical"]},
            },
            "config.alert_threshold_type",
        ),
        (
            {
                "entity_type": "subscription",
                "entity_id": sub.id,
                "parent_entity_type": "subscription",
                "parent_entity_id": sub.id,
            },
            "parent_entity_type",
        ),
        (
            {
                "entity_type": "subscription_line_item",
                "entity_id": item.id,
                "parent_entity_type": "subscription",
                "parent_entity_id": "subs_other",
            },
            "parent_entity_id",
        ),
        ({"entity_type": "subscription", "entity_id": sub.id, "config": {}}, "config"),
    ):
        refused = create(**body)
        assert refused.status_code == 400, (body, refused.text)
        assert field in refused.text, (body, refused.text)
    assert fp.alert_settings.query_alert_settings(entity_ids=[sub.id, item.id]).items == []

    # A line item's parent is filled in; another environment's subscription does not exist.
    made = create(entity_type="subscription_line_item", entity_id=item.id)
    assert made.status_code == 201, made.text
    assert (made.json()["parent_entity_type"], made.json()["parent_entity_id"]) == (
        "subscription",
        sub.id,
    )
    other = new_tenant(tenant.server)
    with other.client() as stranger:
        missing = stranger.post(
            "/v1/alerts/setting",
            json={"entity_type": "subscription", "entity_id": sub.id, "config": over},
        )
        assert missing.status_code == 404, missing.text
        assert stranger.post("/v1/alerts/search", json={}).json()["items"] == []
