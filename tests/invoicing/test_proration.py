"""Proration golden cases (reference §6.4): period 2024-03-01 → 2024-03-31 (the period
[03-01, 04-01): 31 days), change 03-15."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterline.invoicing.proration import (
    billing_days,
    capped_credit,
    coefficient,
    days_between,
    prorate_cancel,
    prorate_change,
    share,
)
from meterline.kernel.money import round_money

D = Decimal
START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)  # exclusive: March has 31 days
ON = datetime(2024, 3, 15, tzinfo=UTC)


def test_coefficient_is_17_of_31() -> None:
    assert coefficient(START, END, ON) == D(17) / D(31)


@pytest.mark.parametrize(
    ("old", "new", "paid", "credit", "charge", "net"),
    [
        ("10", "20", "10", "-5.48", "10.97", "5.49"),  # upgrade: 10×1 → 20×1
        ("100", "30", "100", "-54.84", "16.45", "-38.39"),  # downgrade: 50×2 → 30×1
    ],
)
def test_plan_change_golden(
    old: str, new: str, paid: str, credit: str, charge: str, net: str
) -> None:
    result = prorate_change(
        period_start=START,
        period_end=END,
        proration_date=ON,
        currency="usd",
        old_amount=D(old),
        new_amount=D(new),
        paid=D(paid),
    )
    assert (result.credit, result.charge, result.net) == (D(credit), D(charge), D(net))


@pytest.mark.parametrize(
    ("potential", "paid", "prior", "expected"),
    [
        ("100", "200", "50", "100"),
        ("200", "200", "50", "150"),
        ("100", "200", "180", "20"),
        ("100", "50", "50", "0"),
        ("-5", "100", "0", "0"),
        ("0", "100", "0", "0"),
    ],
)
def test_credit_is_capped_at_what_was_paid(
    potential: str, paid: str, prior: str, expected: str
) -> None:
    assert capped_credit(D(potential), D(paid), D(prior)) == D(expected)


def test_same_day_is_zero_days() -> None:
    assert days_between(ON, ON.replace(hour=23)) == 0


def test_dst_day_counts_as_one_day() -> None:
    # 2024-03-10 is 23 hours long in New York; it still counts as one day.
    before = datetime(2024, 3, 10, 5, tzinfo=UTC)  # 00:00 local
    after = datetime(2024, 3, 11, 4, tzinfo=UTC)  # 00:00 local, 23 h later
    assert days_between(before, after, "America/New_York") == 1
    assert days_between(before, after, "UTC") == 1


def test_days_are_counted_in_the_customer_time_zone() -> None:
    # 2024-03-15 02:00 UTC is still 03-14 in New York.
    noon = datetime(2024, 3, 1, 17, tzinfo=UTC)
    early = datetime(2024, 3, 15, 2, tzinfo=UTC)
    assert days_between(noon, early, "UTC") == 14
    assert days_between(noon, early, "America/New_York") == 13


def test_a_month_has_its_real_number_of_days() -> None:
    # Upstream counted a period ending at the next month's first instant as 32 days.
    assert days_between(START, END) == 31
    assert coefficient(START, END, START) == 1
    feb = datetime(2024, 2, 1, tzinfo=UTC)
    assert coefficient(feb, START, datetime(2024, 2, 15, tzinfo=UTC)) == D(15) / D(29)


def test_cancel_credit_covers_the_days_after_the_cancel_day() -> None:
    # At 03-15 00:00 nothing of 03-15 was used: 17 unused days (03-15..03-31) of 31:
    # 10 × 17/31 = 5.483… → 5.48; at 03-15 12:00 the day was used: 16 days → 5.16.
    credit = prorate_cancel(
        period_start=START, period_end=END, cancel_date=ON, currency="usd", amount=D(10), paid=D(10)
    )
    assert credit == D("-5.48")
    noon = prorate_cancel(
        period_start=START,
        period_end=END,
        cancel_date=ON.replace(hour=12),
        currency="usd",
        amount=D(10),
        paid=D(10),
    )
    assert noon == D("-5.16")
    late = prorate_cancel(
        period_start=START,
        period_end=END,
        cancel_date=datetime(2024, 3, 31, 23, tzinfo=UTC),
        currency="usd",
        amount=D(10),
        paid=D(10),
    )
    assert late == 0  # the last day was used
    unpaid = prorate_cancel(
        period_start=START, period_end=END, cancel_date=ON, currency="usd", amount=D(10), paid=D(0)
    )
    assert unpaid == 0


def test_part_of_a_period_bills_its_days() -> None:
    # A calendar first period from 2024-01-15 to 02-01: 17 of January's 31 days; 10 seats
    # × 8 = 80 → 43.87. Starting at 10:00, the partial first day is not charged: 16 days.
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    feb = datetime(2024, 2, 1, tzinfo=UTC)
    part = share(datetime(2024, 1, 15, tzinfo=UTC), feb, jan, feb)
    assert part == D(17) / D(31)
    assert round_money(D(80) * part, 2) == D("43.87")
    assert share(datetime(2024, 1, 15, 10, tzinfo=UTC), feb, jan, feb) == D(16) / D(31)
    # An anniversary month at 10:37 is whole; a change inside it splits it exactly.
    a, b = datetime(2024, 1, 15, 10, 37, tzinfo=UTC), datetime(2024, 2, 15, 10, 37, tzinfo=UTC)
    assert billing_days(a, b) == 31
    cut = datetime(2024, 1, 20, 8, tzinfo=UTC)
    assert share(a, cut, a, b) + share(cut, b, a, b) == 1
    # A period cut by an end date on 03-10 bills 03-01..03-09.
    assert share(START, datetime(2024, 3, 10, tzinfo=UTC), START, END) == D(9) / D(31)
    assert share(END, END, START, END) == 0
