"""A subscription's status changes only through its operations (activate, cancel, ...):
an update may restate the current status, and any other value is a 400 naming ``status``
and the operation, with the subscription left as it was."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.conftest import unique


def _subscription(fp: Flexprice, **extra: Any) -> Any:
    customer = fp.customers.create_customer(external_id=unique("c"), name="Status Co")
    plan = fp.plans.create_plan(name="Basic", lookup_key=unique("basic"))
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount="10",
        invoice_cadence="ADVANCE",
    )
    return fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY", **extra
    )


@pytest.mark.parametrize(
    ("wanted", "operation"),
    [("paused", "pause"), ("draft", "draft"), ("cancelled", "cancel"), ("trialing", "trial")],
)
def test_status_update_is_refused_and_names_the_operation(
    fp: Flexprice, http: httpx.Client, wanted: str, operation: str
) -> None:
    sub = _subscription(fp)
    with pytest.raises(errors.FlexpriceError) as refused:
        fp.subscriptions.update_subscription(id=sub.id, status=wanted)
    assert refused.value.status_code == 400, refused.value.body
    assert "status" in refused.value.body and operation in refused.value.body
    after = http.get(f"/v1/subscriptions/{sub.id}").json()
    assert after["subscription_status"] == "active"


def test_restating_the_current_status_is_accepted(fp: Flexprice, http: httpx.Client) -> None:
    sub = _subscription(fp)
    response = http.put(f"/v1/subscriptions/{sub.id}", json={"status": "active"})
    assert response.status_code == 200, response.text
    assert response.json()["subscription_status"] == "active"


def test_a_draft_is_activated_only_by_activate(fp: Flexprice, http: httpx.Client) -> None:
    sub = _subscription(fp, subscription_status="draft")
    refused = http.put(f"/v1/subscriptions/{sub.id}", json={"status": "active"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"]["field"] == "status"
    assert "activate" in refused.json()["message"]
    assert http.get(f"/v1/subscriptions/{sub.id}").json()["subscription_status"] == "draft"
    activated = http.post(f"/v1/subscriptions/{sub.id}/activate", json={})
    assert activated.status_code == 200, activated.text
    assert activated.json()["subscription_status"] == "active"
