"""Proration golden cases (reference §6.4): period 2024-03-01 → 2024-03-31, change 03-15."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterline.invoicing.proration import (
    capped_credit,
    coefficient,
    days_between,
    prorate_cancel,
    prorate_change,
)

D = Decimal
START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 3, 31, tzinfo=UTC)
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


def test_cancel_credit_covers_the_days_after_the_cancel_day() -> None:
    # 16 unused days (03-16..03-31) of 31: 10 × 16/31 = 5.161… → 5.16
    credit = prorate_cancel(
        period_start=START, period_end=END, cancel_date=ON, currency="usd", amount=D(10), paid=D(10)
    )
    assert credit == D("-5.16")
    unpaid = prorate_cancel(
        period_start=START, period_end=END, cancel_date=ON, currency="usd", amount=D(10), paid=D(0)
    )
    assert unpaid == 0
