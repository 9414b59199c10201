"""Seats on FIXED prices (``override_line_items`` quantities) and the prorated calendar
first period, through the SDK on a real server."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.subscriptions.world import D, by_reason, customer, fixed_plan, month_days, on


def test_seats_multiply_fixed_charges_and_bad_quantities_are_refused(
    fp: Any, http: httpx.Client
) -> None:
    plan, seat = fixed_plan(fp, "8")
    _slab_plan, slab = fixed_plan(
        fp,
        amount="0",
        billing_model="TIERED",
        tier_mode="SLAB",
        tiers=[{"up_to": 10, "unit_amount": "5"}, {"up_to": 50, "unit_amount": "3"}],
    )
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
    )
    assert [i.quantity for i in sub.line_items] == ["10"]
    v2 = fp.subscriptions.get_subscription_v2(id=sub.id, expand="plan,customer")
    assert (v2.plan.id, v2.customer.id) == (plan.id, buyer.id)
    assert [(i.quantity, i.price.id) for i in v2.line_items] == [("10", seat.id)]
    assert http.get(f"/v1/subscriptions/{sub.id}/v2?expand=coupons").status_code == 400
    opening = by_reason(fp, sub.id, "SUBSCRIPTION_CREATE")
    assert opening.subtotal == "80"  # 10 seats × 8, not 8
    assert opening.line_items[0].quantity == "10"

    # Reference G10: a FIXED SLAB price [≤10: 5, ≤50: 3] on 20 seats is 80.
    tiered = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=_slab_plan.id,
        currency="usd",
        billing_period="MONTHLY",
        override_line_items=[{"price_id": slab.id, "quantity": "20"}],
    )
    assert by_reason(fp, tiered.id, "SUBSCRIPTION_CREATE").subtotal == "80"

    base = {
        "customer_id": buyer.id,
        "plan_id": plan.id,
        "currency": "usd",
        "billing_period": "MONTHLY",
    }
    for overrides, field in [
        ([{"price_id": seat.id, "quantity": "-1"}], "override_line_items.quantity"),
        ([{"price_id": seat.id, "quantity": "0"}], "override_line_items.quantity"),
        ([{"price_id": seat.id, "quantity": "1e12"}], "override_line_items.quantity"),
        ([{"price_id": slab.id, "quantity": "2"}], "override_line_items"),
        ([{"price_id": seat.id, "quantity": "2"}] * 2, "override_line_items"),
        ([{"price_id": seat.id}], "override_line_items"),
    ]:
        refused = http.post("/v1/subscriptions", json={**base, "override_line_items": overrides})
        assert refused.status_code == 400, (overrides, refused.text)
        assert refused.json()["details"]["field"] == field
    amount = http.post(
        "/v1/subscriptions",
        json={**base, "override_line_items": [{"price_id": seat.id, "amount": "1"}]},
    )
    assert amount.status_code == 400
    assert "amount" in amount.text
    with pytest.raises(errors.ErrorResponse):
        fp.subscriptions.create_subscription(
            **base, override_line_items=[{"price_id": seat.id, "quantity": "-3"}]
        )
    listed = fp.subscriptions.query_subscription(customer_id=buyer.id)
    assert len(listed.items) == 1  # nothing half-written


@pytest.mark.parametrize("cadence", ["ADVANCE", "ARREAR"])
def test_calendar_first_period_is_prorated_by_its_real_days(fp: Any, cadence: str) -> None:
    # Starts on the 15th, two months back: the first period runs to the 1st of next month
    # and bills (days of the month − 15) / (days of the month) of the 10 seats × 8 (the
    # partial first day, from 10:00, is not charged: docs/billing.md).
    plan, seat = fixed_plan(fp, "8", cadence)
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        billing_cycle="calendar",
        start_date=on(2, 15, 10),
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
    )
    days = month_days(2)
    expected = (D(80) * (days - 15) / days).quantize(D("0.01"), ROUND_HALF_UP)
    if cadence == "ADVANCE":
        first = by_reason(fp, sub.id, "SUBSCRIPTION_CREATE")
        assert D(first.subtotal) == expected
        assert first.line_items[0].period_start == on(2, 15, 10)
    else:
        preview = fp.invoices.get_invoice_preview(
            subscription_id=sub.id, period_start=on(2, 15, 10), period_end=on(1, 1)
        )
        assert D(preview.line_items[0].amount) == expected
