"""Plan changes through the SDK: preview and execute (v1 and v2), prorated by days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from flexprice.models import errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.invoicing.proration import prorate_change
from tests.subscriptions.world import D, customer, fixed_plan, on

CHANGE = {
    "billing_cadence": "RECURRING",
    "billing_cycle": "anniversary",
    "billing_period": "MONTHLY",
    "proration_behavior": "create_prorations",
}


def test_stripe_style_mid_period_upgrade_golden() -> None:
    # Stripe's example: 10/month, upgraded to 20/month half way through a 30-day month.
    result = prorate_change(
        period_start=datetime(2024, 4, 1, tzinfo=UTC),
        period_end=datetime(2024, 5, 1, tzinfo=UTC),
        proration_date=datetime(2024, 4, 16, tzinfo=UTC),
        currency="usd",
        old_amount=D(10),
        new_amount=D(20),
        paid=D(10),
    )
    assert (result.credit, result.charge, result.net) == (D("-5.00"), D("10.00"), D("5.00"))


def _subscribe(fp: Any, plan: Any, seat: Any, seats: int, start: datetime) -> Any:
    return fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=start,
        override_line_items=[{"price_id": seat.id, "quantity": str(seats)}],
    )


def _expected(sub: Any, old: Decimal, new: Decimal) -> Any:
    return prorate_change(
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        proration_date=datetime.now(UTC),
        currency="usd",
        old_amount=old,
        new_amount=new,
        paid=old,
    )


def test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice(
    fp: Any, http: httpx.Client
) -> None:
    basic, basic_seat = fixed_plan(fp, "10")
    pro, _pro_seat = fixed_plan(fp, "20")
    sub = _subscribe(fp, basic, basic_seat, 3, on(0, 1))
    expected = _expected(sub, D(30), D(60))  # 3 seats carried over: 30 → 60

    preview = fp.subscriptions.preview_subscription_change(
        id=sub.id,
        target_plan_id=pro.id,
        billing_cadence="RECURRING",
        billing_cycle="anniversary",
        billing_period="MONTHLY",
        billing_period_count=1,
        proration_behavior="create_prorations",
        change_at="immediate",
        metadata={"why": "up"},
    )
    assert preview.change_type == "upgrade"
    assert preview.target_plan.id == pro.id and preview.current_plan.id == basic.id
    assert D(preview.proration_details.credit_amount) == -expected.credit
    assert D(preview.proration_details.charge_amount) == expected.charge
    assert fp.subscriptions.get_subscription(id=sub.id).plan_id == basic.id  # nothing changed

    done = fp.subscriptions.execute_subscription_change(
        id=sub.id, target_plan_id=pro.id, billing_period_count=1, metadata={"why": "up"}, **CHANGE
    )
    assert done.change_type == "upgrade" and done.is_scheduled is False
    assert done.new_subscription.plan_id == pro.id and done.old_subscription.plan_id == basic.id
    assert D(done.invoice.subtotal) == expected.net
    assert done.invoice.subtotal == preview.next_invoice_preview.subtotal
    assert [line.amount for line in done.invoice.line_items] == [
        line.amount for line in preview.next_invoice_preview.line_items
    ]
    after = fp.subscriptions.get_subscription(id=sub.id)
    assert after.plan_id == pro.id and after.metadata == {"why": "up"}
    live = [i for i in after.line_items if i.end_date is None]
    assert [(i.entity_id, i.quantity) for i in live] == [(pro.id, "3")]

    # The next period bills the new plan only.
    upcoming = fp.invoices.get_invoice_preview(subscription_id=sub.id)
    advance = [line for line in upcoming.line_items if line.period_start == sub.current_period_end]
    assert [(line.entity_id, line.amount) for line in advance] == [(pro.id, "60")]

    # Back down with v2: the pro seats' unused days come back, capped at what was charged.
    back = {
        "target_plan_id": basic.id,
        "proration_behavior": "create_prorations",
        "billing_period_behaviour": "unchanged",
        "change_at": "immediate",
    }
    preview2 = fp.subscriptions.preview_subscription_plan_change_v2(
        id=sub.id, metadata={"why": "down"}, **back
    )
    done2 = fp.subscriptions.execute_subscription_plan_change_v2(id=sub.id, **back)
    assert preview2.change_type == done2.change_type == "downgrade"
    [created] = [i for i in done2.changed_resources.invoices if i.action == "created"]
    [previewed] = [i for i in preview2.changed_resources.invoices if i.action == "created"]
    assert created.invoice.subtotal == previewed.invoice.subtotal
    net = D(created.invoice.subtotal)
    assert net <= 0 and created.invoice.total == "0"
    assert done2.subscription.plan_id == basic.id
    v2_metadata = fp.subscriptions.execute_subscription_plan_change_v2(
        id=sub.id, target_plan_id=pro.id, proration_behavior="none", metadata={"why": "v2"}
    )
    assert v2_metadata.changed_resources.invoices == []
    assert fp.subscriptions.get_subscription(id=sub.id).metadata == {"why": "v2"}
    if net < 0:
        wallets = http.get(f"/v1/customers/{sub.customer_id}/wallets").json()
        assert [D(w["credit_balance"]) for w in wallets] == [-net]


def test_bad_plan_changes_are_refused_and_change_nothing(fp: Any, http: httpx.Client) -> None:
    basic, seat = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "20")
    euro = fp.plans.create_plan(name="Euro", lookup_key=f"euro-{basic.id}")
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=euro.id,
        price_unit_type="FIAT",
        currency="eur",
        billing_period="MONTHLY",
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount="5",
        invoice_cadence="ADVANCE",
    )
    sub = _subscribe(fp, basic, seat, 1, on(0, 1))
    path = f"/v1/subscriptions/{sub.id}/change/execute"
    for body, field in [
        ({"target_plan_id": euro.id}, "target_plan_id"),
        ({"target_plan_id": basic.id}, "target_plan_id"),
        ({"target_plan_id": pro.id, "change_at": "later"}, "change_at"),
        ({"target_plan_id": pro.id, "billing_period": "ANNUAL"}, "billing_period"),
        ({"target_plan_id": pro.id, "billing_period_count": 2}, "billing_period_count"),
        ({"target_plan_id": pro.id, "billing_cycle": "calendar"}, "billing_cycle"),
        ({"target_plan_id": pro.id, "billing_cadence": "ONETIME"}, "billing_cadence"),
        ({"target_plan_id": pro.id, "proration_behavior": "always"}, "proration_behavior"),
    ]:
        refused = http.post(path, json={**CHANGE, **body})
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["details"]["field"] == field
    v2 = http.post(
        f"/v1/subscriptions/{sub.id}/change/v2/execute",
        json={"target_plan_id": pro.id, "proration_behavior": "none", "idempotency_key": "k"},
    )
    assert v2.status_code == 400 and "idempotency_key" in v2.text
    for body, field in [
        ({"change_at": "tomorrow"}, "change_at"),
        ({"billing_period_behaviour": "anchor_at_effect"}, "billing_period_behaviour"),
    ]:
        refused = http.post(
            f"/v1/subscriptions/{sub.id}/change/v2/preview",
            json={"target_plan_id": pro.id, "proration_behavior": "none", **body},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["details"]["field"] == field
    fp.subscriptions.cancel_subscription(id=sub.id, cancellation_type="immediate")
    with pytest.raises(errors.ErrorResponse) as cancelled:
        fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=pro.id, **CHANGE)
    assert cancelled.value.data.code == "invalid_operation"
    assert fp.subscriptions.get_subscription(id=sub.id).plan_id == basic.id
    invoices = fp.invoices.query_invoice(subscription_id=sub.id).items
    assert [i.billing_reason for i in invoices] == ["SUBSCRIPTION_CREATE"]


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.integers(1, 5000),
    new=st.integers(1, 5000),
    seats=st.integers(1, 40),
    started_days_ago=st.integers(0, 27),
    behaviour=st.sampled_from(["create_prorations", "none"]),
)
def test_the_preview_is_what_the_execution_bills(
    fp: Any, old: int, new: int, seats: int, started_days_ago: int, behaviour: str
) -> None:
    a, a_seat = fixed_plan(fp, str(D(old) / 100))
    b, _ = fixed_plan(fp, str(D(new) / 100))
    start = (datetime.now(UTC) - timedelta(days=started_days_ago)).replace(microsecond=0)
    sub = _subscribe(fp, a, a_seat, seats, start)
    body = {**CHANGE, "target_plan_id": b.id, "proration_behavior": behaviour}
    preview = fp.subscriptions.preview_subscription_change(id=sub.id, **body)
    done = fp.subscriptions.execute_subscription_change(id=sub.id, **body)
    assert preview.change_type == done.change_type
    assert preview.proration_details.net_amount == done.proration_applied.net_amount
    if behaviour == "none":
        assert done.invoice is None and preview.next_invoice_preview.line_items == []
        return
    assert done.invoice.subtotal == preview.next_invoice_preview.subtotal
    assert [line.amount for line in done.invoice.line_items] == [
        line.amount for line in preview.next_invoice_preview.line_items
    ]
    expected = _expected(sub, D(old) * seats / 100, D(new) * seats / 100)
    assert D(done.invoice.subtotal) == expected.net


def test_usage_before_a_change_is_billed_once_on_the_old_plans_item(fp: Any) -> None:
    calls = fp.features.create_feature(
        name="Calls",
        type_="metered",
        lookup_key=f"calls-{datetime.now(UTC).timestamp()}",
        meter={
            "name": "calls",
            "event_name": "plan_change_call",
            "aggregation": {"type": "COUNT"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    plans = []
    for amount in ("1", "2"):
        plan, _fee = fixed_plan(fp, "10")
        fp.prices.create_price(
            entity_type="PLAN",
            entity_id=plan.id,
            price_unit_type="FIAT",
            currency="usd",
            billing_period="MONTHLY",
            billing_period_count=1,
            type_="USAGE",
            meter_id=calls.meter_id,
            billing_model="FLAT_FEE",
            amount=amount,
            invoice_cadence="ARREAR",
        )
        plans.append(plan)
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plans[0].id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
    )
    moment = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    fp.events.ingest_events_bulk(
        events=[
            {
                "event_name": "plan_change_call",
                "external_customer_id": buyer.external_id,
                "event_id": f"{sub.id}-{i}",
                "timestamp": moment,
            }
            for i in range(7)
        ]
    )
    fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=plans[1].id, **CHANGE)
    usage = fp.subscriptions.get_subscription_usage(subscription_id=sub.id)
    assert sorted((c.price.amount, c.quantity) for c in usage.charges) == [("1", 7.0), ("2", 0.0)]
    assert usage.amount == 7.0
