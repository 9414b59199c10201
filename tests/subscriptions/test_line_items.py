"""Seat changes (modify quantity_change) and line items added, updated and removed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.invoicing.proration import prorate_change
from meterline.kernel.money import round_money
from tests.subscriptions.world import D, customer, fixed_plan, on


def _proration(sub: Any, old: Decimal, new: Decimal) -> Any:
    return prorate_change(
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        proration_date=datetime.now(UTC),
        currency="usd",
        old_amount=old,
        new_amount=new,
        paid=old,
    )


def _created_invoice(response: Any) -> Any:
    [created] = [i for i in response.changed_resources.invoices if i.action == "created"]
    return created.invoice


def test_seat_change_is_prorated_and_the_preview_is_the_execution(
    fp: Any, http: httpx.Client
) -> None:
    plan, seat = fixed_plan(fp, "8")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
    )
    [item] = sub.line_items
    params = {"line_items": [{"id": item.id, "quantity": "15"}]}
    preview = fp.subscriptions.preview_subscription_modify(
        id=sub.id, type_="quantity_change", quantity_change_params=params
    )
    done = fp.subscriptions.execute_subscription_modify(
        id=sub.id, type_="quantity_change", quantity_change_params=params
    )
    expected = _proration(sub, D(80), D(120))
    invoice = _created_invoice(done)
    assert D(invoice.subtotal) == expected.net
    assert sorted(D(line.amount) for line in invoice.line_items) == [
        expected.credit,
        expected.charge,
    ]
    assert invoice.subtotal == _created_invoice(preview).subtotal
    actions = sorted((c.change_action, c.quantity) for c in done.changed_resources.line_items)
    assert actions == [("created", "15"), ("ended", "10")]
    live = [i for i in done.subscription.line_items if i.end_date is None]
    assert [i.quantity for i in live] == ["15"]
    upcoming = fp.invoices.get_invoice_preview(subscription_id=sub.id)
    advance = [line for line in upcoming.line_items if line.period_start == sub.current_period_end]
    assert [line.amount for line in advance] == ["120"]

    path = f"/v1/subscriptions/{sub.id}/modify/execute"
    usage_free = {"type": "quantity_change"}
    for body, field in [
        ({"quantity_change_params": {"line_items": [{"id": live[0].id, "quantity": "-1"}]}}, None),
        ({"quantity_change_params": {"line_items": [{"id": item.id, "quantity": "3"}]}}, None),
        ({"quantity_change_params": {"line_items": [{"id": "nope", "quantity": "3"}]}}, None),
        ({"type": "coupon", "quantity_change_params": {"line_items": []}}, "type"),
        ({}, "quantity_change_params"),
    ]:
        refused = http.post(path, json={**usage_free, **body})
        assert refused.status_code == 400, (body, refused.text)
        if field:
            assert refused.json()["details"]["field"] == field
    dated = http.post(
        path,
        json={
            **usage_free,
            "quantity_change_params": {
                "line_items": [
                    {"id": live[0].id, "quantity": "2", "effective_date": "2030-01-01T00:00:00Z"}
                ]
            },
        },
    )
    assert dated.status_code == 400 and "effective_date" in dated.text
    assert [i.quantity for i in fp.subscriptions.get_subscription(id=sub.id).line_items] == [
        "10",
        "15",
    ]


def test_a_line_item_is_added_updated_and_removed_with_proration(
    fp: Any, http: httpx.Client
) -> None:
    plan, _seat = fixed_plan(fp, "8")
    _other, support = fixed_plan(fp, "30")
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
    )
    added = fp.subscriptions.create_subscription_line_item(
        id=sub.id,
        price_id=support.id,
        quantity=2,
        display_name="Support",
        metadata={"tier": "gold"},
        proration_behavior="create_prorations",
    )
    assert added.entity_type == "subscription" and added.quantity == "2"
    assert added.display_name == "Support" and added.metadata == {"tier": "gold"}
    expected = _proration(sub, D(0), D(60))
    updates = [
        i
        for i in fp.invoices.query_invoice(subscription_id=sub.id).items
        if i.billing_reason == "SUBSCRIPTION_UPDATE"
    ]
    assert [D(i.subtotal) for i in updates] == [expected.charge]

    updated = fp.subscriptions.update_subscription_line_item(id=added.id, metadata={"tier": "x"})
    assert updated.metadata == {"tier": "x"}
    refused = http.put(f"/v1/subscriptions/lineitems/{added.id}", json={"amount": "1"})
    assert refused.status_code == 400 and "amount" in refused.text

    removed = fp.subscriptions.delete_subscription_line_item(
        id=added.id, proration_behavior="create_prorations"
    )
    assert removed.end_date is not None
    # Removed the same day: the unused days it was charged for come back, to the wallet.
    wallets = http.get(f"/v1/customers/{buyer.id}/wallets").json()
    assert [D(w["credit_balance"]) for w in wallets] == [expected.charge]
    again = http.delete(f"/v1/subscriptions/lineitems/{added.id}")
    assert again.status_code == 400
    for body, field in [
        ({"price_id": "price_missing"}, None),
        ({"price_id": support.id, "quantity": "-2"}, "quantity"),
        ({"price_id": support.id, "start_date": "2030-01-01T00:00:00Z"}, None),
    ]:
        bad = http.post(f"/v1/subscriptions/{sub.id}/lineitems", json=body)
        assert bad.status_code in (400, 404), (body, bad.text)
        if field:
            assert bad.json()["details"]["field"] == field


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cents=st.integers(1, 100_000),
    seats=st.lists(st.integers(1, 50), min_size=1, max_size=4),
    switch_plan=st.booleans(),
)
def test_a_subscriptions_invoices_sum_to_its_charges_for_the_time_it_was_active(
    fp: Any, cents: int, seats: list[int], switch_plan: bool
) -> None:
    """Seats changed (and maybe the plan switched) then cancelled, all today: whatever the
    changes, the invoices add up to the first quantity's charge for the days used."""
    price = D(cents) / 100
    plan, seat = fixed_plan(fp, str(price))
    other, _ = fixed_plan(fp, str(price * 2))
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
        override_line_items=[{"price_id": seat.id, "quantity": str(seats[0])}],
    )
    for quantity in seats[1:]:
        [live] = [
            i for i in fp.subscriptions.get_subscription(id=sub.id).line_items if not i.end_date
        ]
        fp.subscriptions.execute_subscription_modify(
            id=sub.id,
            type_="quantity_change",
            quantity_change_params={"line_items": [{"id": live.id, "quantity": str(quantity)}]},
        )
    if switch_plan:
        fp.subscriptions.execute_subscription_plan_change_v2(
            id=sub.id, target_plan_id=other.id, proration_behavior="create_prorations"
        )
    fp.subscriptions.cancel_subscription(
        id=sub.id,
        cancellation_type="immediate",
        cancel_immediately_invoice_policy="generate_invoice",
    )
    billed = sum(D(i.subtotal) for i in fp.invoices.query_invoice(subscription_id=sub.id).items)
    whole = price * seats[0]
    unused = -_proration(sub, whole, whole).credit  # the days after today
    assert billed == round_money(whole, 2) - unused
    days = (sub.current_period_end - sub.current_period_start).days
    used = D((datetime.now(UTC) - sub.current_period_start).days + 1)
    assert abs(billed - whole * used / days) <= D("0.01")
