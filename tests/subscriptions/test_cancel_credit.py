"""An immediate cancellation credits the unused paid days to the customer's wallet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.invoicing.proration import billing_days, capped_credit, prorate_cancel, share
from meterline.kernel.money import round_money
from tests.subscriptions.world import D, by_reason, customer, fixed_plan, month_days, on


def _subscribe(fp: Any, plan: Any, seat: Any, buyer: Any, **extra: Any) -> Any:
    return fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(2, 1),
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
        **extra,
    )


def _wallet_balance(http: httpx.Client, customer_id: str) -> list[str]:
    found = http.get(f"/v1/customers/{customer_id}/wallets")
    assert found.status_code == 200, found.text
    return [w["credit_balance"] for w in found.json()]


def test_immediate_cancel_credits_unused_days_to_the_wallet(fp: Any, http: httpx.Client) -> None:
    plan, seat = fixed_plan(fp, "8")
    days = month_days(2)
    # Cancelled on the 11th at noon: the 11th was used, the days after it were not.
    when = on(2, 11, 12)
    expected = (D(80) * (days - 11) / days).quantize(D("0.01"), ROUND_HALF_UP)

    buyer = customer(fp)
    sub = _subscribe(fp, plan, seat, buyer)
    assert by_reason(fp, sub.id, "SUBSCRIPTION_CREATE").subtotal == "80"
    done = fp.subscriptions.cancel_subscription(
        id=sub.id,
        cancellation_type="immediate",
        cancel_at=when,
        cancel_immediately_invoice_policy="generate_invoice",
    )
    assert D(done.total_credit_amount) == expected
    assert [D(d.credit_amount) for d in done.proration_details] == [expected]
    assert done.proration_invoice is not None and done.proration_invoice.total == "0"
    assert D(done.proration_invoice.subtotal) == -expected
    assert "credited to wallet" in (done.message or "")
    assert [D(b) for b in _wallet_balance(http, buyer.id)] == [expected]

    # No proration asked: nothing credited. A skipped invoice with prorations: all to the
    # wallet the customer already has (10 credits per dollar).
    quiet = _subscribe(fp, plan, seat, customer(fp))
    none = fp.subscriptions.cancel_subscription(
        id=quiet.id,
        cancellation_type="immediate",
        cancel_at=when,
        cancel_immediately_invoice_policy="generate_invoice",
        proration_behavior="none",
    )
    assert none.total_credit_amount == "0" and none.proration_details == []
    assert _wallet_balance(http, quiet.customer_id) == []

    holder = customer(fp)
    fp.wallets.create_wallet(customer_id=holder.id, currency="usd", conversion_rate="0.1")
    skipped = _subscribe(fp, plan, seat, holder)
    direct = fp.subscriptions.cancel_subscription(
        id=skipped.id,
        cancellation_type="immediate",
        cancel_at=when,
        proration_behavior="create_prorations",
    )
    assert direct.proration_invoice is None
    assert D(direct.total_credit_amount) == expected
    assert [D(b) for b in _wallet_balance(http, holder.id)] == [expected * 10]

    bad = http.post(
        f"/v1/subscriptions/{skipped.id}/cancel",
        json={"cancellation_type": "immediate", "proration_behavior": "sometimes"},
    )
    assert bad.status_code == 400


def test_a_credit_is_capped_at_what_the_period_invoiced(fp: Any, http: httpx.Client) -> None:
    # A calendar first period from the 15th bills 10 × 8 for its days only; a cancel on
    # the 20th credits the days after it, never more than the opening invoice charged.
    plan, seat = fixed_plan(fp, "8")
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        billing_cycle="calendar",
        start_date=on(2, 15),
        override_line_items=[{"price_id": seat.id, "quantity": "10"}],
    )
    days = month_days(2)
    paid = D(by_reason(fp, sub.id, "SUBSCRIPTION_CREATE").subtotal)
    assert paid == (D(80) * (days - 14) / days).quantize(D("0.01"), ROUND_HALF_UP)
    done = fp.subscriptions.cancel_subscription(
        id=sub.id,
        cancellation_type="immediate",
        cancel_at=on(2, 20, 9),
        cancel_immediately_invoice_policy="generate_invoice",
    )
    credit = D(done.total_credit_amount)
    assert credit == (D(80) * (days - 20) / days).quantize(D("0.01"), ROUND_HALF_UP)
    assert credit <= paid

    # An opening invoice voided: nothing was paid for the period, nothing is credited.
    voided = _subscribe(fp, plan, seat, customer(fp))
    opening = by_reason(fp, voided.id, "SUBSCRIPTION_CREATE")
    assert http.post(f"/v1/invoices/{opening.id}/finalize").status_code == 200
    assert http.post(f"/v1/invoices/{opening.id}/void").status_code == 200
    nothing = fp.subscriptions.cancel_subscription(
        id=voided.id,
        cancellation_type="immediate",
        cancel_at=on(2, 11, 12),
        cancel_immediately_invoice_policy="generate_invoice",
    )
    assert nothing.total_credit_amount == "0"
    assert _wallet_balance(http, voided.customer_id) == []


_START = datetime(2024, 1, 1, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    start_hours=st.integers(0, 24 * 400),
    length_days=st.sampled_from([28, 29, 30, 31, 92]),
    cancel_hours=st.integers(0, 24 * 92),
    cents=st.integers(0, 10**9),
    paid_share=st.fractions(0, 1),
    prior_share=st.fractions(0, 1),
    timezone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
)
def test_credits_never_exceed_what_was_paid_for_the_unused_time(
    start_hours: int,
    length_days: int,
    cancel_hours: int,
    cents: int,
    paid_share: Any,
    prior_share: Any,
    timezone: str,
) -> None:
    start = _START + timedelta(hours=start_hours)
    end = start + timedelta(days=length_days)
    cancel = min(start + timedelta(hours=cancel_hours), end)
    amount = Decimal(cents) / 100
    paid = round_money(amount * Decimal(paid_share.numerator) / paid_share.denominator, 2)
    prior = round_money(paid * Decimal(prior_share.numerator) / prior_share.denominator, 2)
    credit = -prorate_cancel(
        period_start=start,
        period_end=end,
        cancel_date=cancel,
        currency="usd",
        amount=amount,
        paid=paid,
        prior_credits=prior,
        timezone=timezone,
    )
    unused = share(cancel, end, start, end, timezone)
    used = share(start, cancel, start, end, timezone)
    assert used + unused == 1  # the day of the cancel is used, never both
    assert 0 <= credit <= paid - prior
    assert credit <= round_money(amount * unused, 2)
    # Credited days are whole days after the cancel: never one the customer had used.
    assert (
        unused * billing_days(start, end, timezone)
        <= Decimal((end - cancel).total_seconds() / 86400) + 1
    )
    assert credit == capped_credit(round_money(amount * unused, 2), paid, prior)
