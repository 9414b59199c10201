"""Pause and resume through the SDK: the period closes at the pause, nothing is billed or
granted while paused, and a resume starts a new period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flexprice.models import errors

from meterline.invoicing.proration import prorate_cancel
from tests.conftest import unique
from tests.subscriptions.world import D, customer, fixed_plan, on


def test_pause_credits_unused_days_grants_nothing_and_resume_starts_a_period(
    fp: Any, http: httpx.Client
) -> None:
    plan, seat = fixed_plan(fp, "8")
    sso = fp.features.create_feature(name="SSO", type_="boolean", lookup_key=unique("sso"))
    fp.entitlements.create_entitlement(
        plan_id=plan.id, feature_id=sso.id, feature_type="boolean", is_enabled=True
    )
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
    )
    credit = -prorate_cancel(
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        cancel_date=datetime.now(UTC),
        currency="usd",
        amount=D(80),
        paid=D(80),
    )
    paused = fp.subscriptions.pause_subscription(
        id=sub.id,
        reason="holiday",
        metadata={"by": "support"},
        proration_behavior="create_prorations",
    )
    assert paused.subscription.subscription_status == "paused"
    assert paused.subscription.pause_status == "active"
    assert paused.pause.pause_status == "active" and paused.pause.reason == "holiday"
    assert paused.pause.metadata == {"by": "support"}
    closing = [
        i
        for i in fp.invoices.query_invoice(subscription_id=sub.id).items
        if i.billing_reason == "SUBSCRIPTION_UPDATE"
    ]
    assert [D(i.subtotal) for i in closing] == [-credit]
    wallets = http.get(f"/v1/customers/{buyer.id}/wallets").json()
    assert [D(w["credit_balance"]) for w in wallets] == ([credit] if credit else [])
    assert fp.customers.get_customer_entitlements(id=buyer.id).features == []

    with pytest.raises(errors.ErrorResponse) as twice:
        fp.subscriptions.pause_subscription(id=sub.id)
    assert twice.value.data.code == "invalid_operation"
    changed = http.post(
        f"/v1/subscriptions/{sub.id}/change/v2/execute",
        json={"target_plan_id": plan.id, "proration_behavior": "none"},
    )
    assert changed.status_code == 400
    refused = http.post(f"/v1/subscriptions/{sub.id}/resume", json={"proration_behavior": "none"})
    assert refused.status_code == 400 and "proration_behavior" in refused.text

    resumed = fp.subscriptions.resume_subscription(id=sub.id, metadata={"back": "yes"})
    assert resumed.subscription.subscription_status == "active"
    assert resumed.pause.pause_status == "completed"
    assert resumed.pause.resumed_at == resumed.subscription.current_period_start
    assert resumed.subscription.billing_anchor == resumed.pause.resumed_at
    assert [p.pause_status for p in resumed.subscription.pauses] == ["completed"]
    opened = [
        i
        for i in fp.invoices.query_invoice(subscription_id=sub.id).items
        if i.period_start == resumed.subscription.current_period_start
    ]
    assert [i.subtotal for i in opened] == ["80"]  # a whole anniversary period again
    assert len(fp.customers.get_customer_entitlements(id=buyer.id).features) == 1
    with pytest.raises(errors.ErrorResponse) as again:
        fp.subscriptions.resume_subscription(id=sub.id)
    assert again.value.data.code == "invalid_operation"
