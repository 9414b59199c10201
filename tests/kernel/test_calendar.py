"""Golden cases of the period maths (reference §6.5) and the rules around them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterline.kernel.calendar import (
    Period,
    calendar_anchor,
    first_period,
    next_billing_date,
    period_containing,
    usage_window,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("anchor", "count", "current_start", "expected_next"),
    [
        (utc(2024, 1, 31), 1, utc(2024, 1, 31), utc(2024, 2, 29)),
        (utc(2023, 12, 31), 2, utc(2023, 12, 31), utc(2024, 2, 29)),
        (utc(2024, 2, 29), 1, utc(2024, 2, 29), utc(2024, 3, 29)),
        (utc(2024, 12, 31), 2, utc(2024, 12, 31), utc(2025, 2, 28)),
        (utc(2024, 2, 29), 2, utc(2024, 4, 29), utc(2024, 6, 29)),
    ],
)
def test_golden_monthly_anniversary(
    anchor: datetime, count: int, current_start: datetime, expected_next: datetime
) -> None:
    assert next_billing_date(current_start, anchor, "MONTHLY", count) == expected_next


def test_golden_monthly_calendar_mid_month_start() -> None:
    anchor, period = first_period(utc(2024, 1, 15), "MONTHLY", billing_cycle="calendar")
    assert anchor == utc(2024, 2, 1)
    assert period == Period(utc(2024, 1, 15), utc(2024, 2, 1))


def test_golden_monthly_calendar_year_end() -> None:
    start = utc(2024, 12, 30, 10, 37)
    anchor, period = first_period(start, "MONTHLY", billing_cycle="calendar")
    assert period == Period(start, utc(2025, 1, 1, 0, 0))
    assert anchor == utc(2025, 1, 1)


def test_month_end_anchor_returns_to_the_31st_after_february() -> None:
    anchor = utc(2024, 1, 31)
    feb = next_billing_date(anchor, anchor, "MONTHLY")
    assert feb == utc(2024, 2, 29)
    assert next_billing_date(feb, anchor, "MONTHLY") == utc(2024, 3, 31)
    assert next_billing_date(utc(2024, 3, 31), anchor, "MONTHLY") == utc(2024, 4, 30)


@pytest.mark.parametrize(
    ("period", "count", "anchor", "at", "expected"),
    [
        (
            "ANNUAL",
            1,
            utc(2024, 2, 29),
            utc(2025, 3, 1),
            Period(utc(2025, 2, 28), utc(2026, 2, 28)),
        ),
        (
            "QUARTERLY",
            1,
            utc(2024, 1, 31),
            utc(2024, 5, 1),
            Period(utc(2024, 4, 30), utc(2024, 7, 31)),
        ),
        (
            "HALF_YEARLY",
            1,
            utc(2024, 1, 1),
            utc(2024, 7, 1),
            Period(utc(2024, 7, 1), utc(2025, 1, 1)),
        ),
        (
            "WEEKLY",
            1,
            utc(2024, 1, 3, 9),
            utc(2024, 1, 17, 8),
            Period(utc(2024, 1, 10, 9), utc(2024, 1, 17, 9)),
        ),
        (
            "WEEKLY",
            2,
            utc(2024, 1, 3),
            utc(2024, 1, 17),
            Period(utc(2024, 1, 17), utc(2024, 1, 31)),
        ),
        (
            "DAILY",
            1,
            utc(2024, 3, 1, 6),
            utc(2024, 3, 5, 5, 59),
            Period(utc(2024, 3, 4, 6), utc(2024, 3, 5, 6)),
        ),
        ("DAILY", 3, utc(2024, 3, 1), utc(2024, 3, 5), Period(utc(2024, 3, 4), utc(2024, 3, 7))),
        (
            "MONTHLY",
            1,
            utc(2024, 5, 15),
            utc(2024, 3, 20),
            Period(utc(2024, 3, 15), utc(2024, 4, 15)),
        ),
    ],
)
def test_period_containing(
    period: str, count: int, anchor: datetime, at: datetime, expected: Period
) -> None:
    assert period_containing(anchor, period, count, at) == expected


def test_periods_follow_the_customers_wall_clock_across_dst() -> None:
    # Midnight in New York is 05:00 UTC in winter and 04:00 UTC in summer.
    anchor = datetime(2024, 1, 1, 5, tzinfo=UTC)
    period = period_containing(anchor, "MONTHLY", 1, utc(2024, 3, 20), "America/New_York")
    assert period == Period(utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))


@pytest.mark.parametrize(
    ("period", "start", "expected"),
    [
        ("DAILY", utc(2024, 3, 5, 10), utc(2024, 3, 6)),
        ("WEEKLY", utc(2024, 3, 6, 10), utc(2024, 3, 11)),  # a Wednesday → next Monday
        ("QUARTERLY", utc(2024, 2, 10), utc(2024, 4, 1)),
        ("HALF_YEARLY", utc(2024, 8, 10), utc(2025, 1, 1)),
        ("ANNUAL", utc(2024, 8, 10), utc(2025, 1, 1)),
    ],
)
def test_calendar_anchor(period: str, start: datetime, expected: datetime) -> None:
    assert calendar_anchor(start, period) == expected


def test_calendar_anchor_is_midnight_in_the_customers_zone() -> None:
    start = utc(2024, 1, 15, 12)
    assert calendar_anchor(start, "MONTHLY", "Asia/Kolkata") == datetime(
        2024, 1, 31, 18, 30, tzinfo=UTC
    )


def test_count_below_one_is_rejected() -> None:
    with pytest.raises(ValueError):
        period_containing(utc(2024, 1, 1), "MONTHLY", 0, utc(2024, 2, 1))


def test_usage_window_by_reset_period() -> None:
    sub_period = Period(utc(2024, 3, 10), utc(2024, 4, 10))
    common = {
        "subscription_period": sub_period,
        "subscription_start": utc(2024, 1, 10),
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "anchor": utc(2024, 1, 10),
        "at": utc(2024, 3, 20, 15),
    }
    assert usage_window("MONTHLY", **common) == sub_period  # type: ignore[arg-type]
    assert usage_window(None, **common) == sub_period  # type: ignore[arg-type]
    assert usage_window("NEVER", **common) is None  # type: ignore[arg-type]
    assert usage_window("DAILY", **common) == Period(utc(2024, 3, 20), utc(2024, 3, 21))  # type: ignore[arg-type]
    assert usage_window("WEEKLY", **common) == Period(utc(2024, 3, 20), utc(2024, 3, 27))  # type: ignore[arg-type]
