"""Golden cases of the period maths (reference §6.5) and the rules around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterline.kernel.calendar import (
    NEVER_ENDS,
    WINDOW_SIZES,
    Period,
    add_months,
    calendar_anchor,
    calendar_window,
    day_windows,
    first_period,
    next_billing_date,
    period_containing,
    usage_window,
)
from meterline.kernel.instants import to_micros
from meterline.metering.windows import window_start


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
    never = usage_window("NEVER", **common)  # type: ignore[arg-type]
    assert never == Period(utc(2024, 1, 10), NEVER_ENDS)
    assert usage_window("DAILY", **common) == Period(utc(2024, 3, 20), utc(2024, 3, 21))  # type: ignore[arg-type]
    assert usage_window("WEEKLY", **common) == Period(utc(2024, 3, 20), utc(2024, 3, 27))  # type: ignore[arg-type]


# ---- the one calendar: windows, resets, anchors (every package's periods come from here) ----

NY = "America/New_York"  # −05:00 / −04:00; DST 2024-03-10 02:00 → 03:00, 2024-11-03 02:00 → 01:00
LH = "Australia/Lord_Howe"  # +10:30 / +11:00, a half-hour DST shift (2024-04-07, 2024-10-06)


def at_wall(zone_name: str, *parts: int, fold: int = 0) -> datetime:
    """A wall-clock time of ``zone_name`` as a UTC instant."""
    wall = datetime(*parts, tzinfo=ZoneInfo(zone_name), fold=fold)  # type: ignore[misc]
    return wall.astimezone(UTC)


@pytest.mark.parametrize(
    ("unit", "at", "timezone", "expected"),
    [
        # Days are local days: 23 h when DST starts, 25 h (24.5 h in Lord Howe) when it ends.
        ("DAY", utc(2024, 3, 10, 12), NY, Period(utc(2024, 3, 10, 5), utc(2024, 3, 11, 4))),
        ("DAY", utc(2024, 11, 3, 12), NY, Period(utc(2024, 11, 3, 4), utc(2024, 11, 4, 5))),
        ("DAY", utc(2024, 4, 7), LH, Period(utc(2024, 4, 6, 13), utc(2024, 4, 7, 13, 30))),
        ("DAY", utc(2024, 10, 6), LH, Period(utc(2024, 10, 5, 13, 30), utc(2024, 10, 6, 13))),
        # Weeks start on Monday, local midnight.
        ("WEEK", utc(2024, 11, 6, 12), NY, Period(utc(2024, 11, 4, 5), utc(2024, 11, 11, 5))),
        ("WEEKLY", utc(2024, 3, 10, 12), NY, Period(utc(2024, 3, 4, 5), utc(2024, 3, 11, 4))),
        ("WEEK", utc(2024, 12, 31), "UTC", Period(utc(2024, 12, 30), utc(2025, 1, 6))),
        # Months, quarters, half-years, years: the calendar's own.
        ("MONTH", utc(2024, 2, 29, 23), "UTC", Period(utc(2024, 2, 1), utc(2024, 3, 1))),
        ("MONTH", utc(2024, 3, 31, 12), NY, Period(utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))),
        ("MONTHLY", utc(2024, 1, 15), LH, Period(utc(2023, 12, 31, 13), utc(2024, 1, 31, 13))),
        ("QUARTERLY", utc(2024, 5, 20), "UTC", Period(utc(2024, 4, 1), utc(2024, 7, 1))),
        ("HALF_YEARLY", utc(2024, 12, 31), "UTC", Period(utc(2024, 7, 1), utc(2025, 1, 1))),
        ("YEAR", utc(2024, 2, 29), "UTC", Period(utc(2024, 1, 1), utc(2025, 1, 1))),
        ("ANNUAL", utc(2024, 6, 1), NY, Period(utc(2024, 1, 1, 5), utc(2025, 1, 1, 5))),
        # Shorter than a day: multiples of the local day's minutes.
        ("HOUR", utc(2024, 1, 1, 0, 10), LH, Period(utc(2024, 1, 1), utc(2024, 1, 1, 1))),
        (
            "HOUR",
            utc(2024, 6, 1, 0, 10),
            LH,
            Period(utc(2024, 5, 31, 23, 30), utc(2024, 6, 1, 0, 30)),
        ),
        (
            "3HOUR",
            utc(2024, 1, 1),
            "Asia/Kolkata",
            Period(utc(2023, 12, 31, 21, 30), utc(2024, 1, 1, 0, 30)),
        ),
        (
            "15MIN",
            utc(2024, 1, 1, 10, 44, 59),
            "UTC",
            Period(utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 10, 45)),
        ),
    ],
)
def test_golden_calendar_windows(unit: str, at: datetime, timezone: str, expected: Period) -> None:
    assert calendar_window(at, unit, timezone) == expected
    if unit in WINDOW_SIZES:
        micros = window_start(to_micros(at), unit, ZoneInfo(timezone))
        assert micros == to_micros(expected.start)


@pytest.mark.parametrize(
    ("period", "anchor", "at", "timezone", "expected"),
    [
        # Anchors on the 31st clamp to each month's end and come back to the 31st.
        (
            "MONTHLY",
            utc(2024, 1, 31),
            utc(2024, 3, 1),
            "UTC",
            Period(utc(2024, 2, 29), utc(2024, 3, 31)),
        ),
        (
            "MONTHLY",
            utc(2023, 1, 31),
            utc(2023, 3, 1),
            "UTC",
            Period(utc(2023, 2, 28), utc(2023, 3, 31)),
        ),
        (
            "MONTHLY",
            utc(2024, 1, 31),
            utc(2024, 5, 30),
            "UTC",
            Period(utc(2024, 4, 30), utc(2024, 5, 31)),
        ),
        (
            "MONTH",
            utc(2024, 8, 31),
            utc(2024, 9, 30, 23),
            "UTC",
            Period(utc(2024, 9, 30), utc(2024, 10, 31)),
        ),
        # ... on the customer's wall clock: midnight EST, then midnight EDT.
        (
            "MONTHLY",
            at_wall(NY, 2024, 1, 31),
            utc(2024, 3, 31, 12),
            NY,
            Period(utc(2024, 3, 31, 4), utc(2024, 4, 30, 4)),
        ),
        (
            "MONTHLY",
            at_wall(LH, 2024, 1, 31),
            utc(2024, 4, 15),
            LH,
            Period(at_wall(LH, 2024, 3, 31), at_wall(LH, 2024, 4, 30)),
        ),
        # Feb 29 anchors: Feb 28 in common years, Feb 29 again in leap years.
        (
            "ANNUAL",
            utc(2024, 2, 29),
            utc(2027, 3, 1),
            "UTC",
            Period(utc(2027, 2, 28), utc(2028, 2, 29)),
        ),
        (
            "YEAR",
            utc(2024, 2, 29),
            utc(2028, 2, 29),
            "UTC",
            Period(utc(2028, 2, 29), utc(2029, 2, 28)),
        ),
        # Days and weeks keep the anchor's local clock time across DST.
        (
            "WEEKLY",
            at_wall(NY, 2024, 3, 4),
            utc(2024, 3, 12),
            NY,
            Period(utc(2024, 3, 11, 4), utc(2024, 3, 18, 4)),
        ),
        (
            "DAILY",
            at_wall(LH, 2024, 4, 1, 9),
            utc(2024, 4, 7, 12),
            LH,
            Period(at_wall(LH, 2024, 4, 7, 9), at_wall(LH, 2024, 4, 8, 9)),
        ),
        # Hours are whole hours from the anchor (licensing: always UTC).
        (
            "HOUR",
            utc(2026, 1, 1, 0, 30),
            utc(2026, 3, 18, 15, 42),
            "UTC",
            Period(utc(2026, 3, 18, 15, 30), utc(2026, 3, 18, 16, 30)),
        ),
    ],
)
def test_golden_anchored_periods(
    period: str, anchor: datetime, at: datetime, timezone: str, expected: Period
) -> None:
    assert period_containing(anchor, period, 1, at, timezone) == expected


def test_anchored_month_window_is_the_billing_period_to_the_microsecond() -> None:
    # A subscription created without a start date is anchored at "now", microseconds and all.
    anchor = datetime(2024, 1, 15, 10, 0, 0, 250_000, tzinfo=UTC)
    just_before = datetime(2024, 2, 15, 10, 0, 0, 100_000, tzinfo=UTC)
    tz = ZoneInfo("UTC")
    assert window_start(to_micros(just_before), "MONTH", tz, anchor) == to_micros(anchor)


def test_anchored_month_window_in_the_repeated_hour_is_one_window() -> None:
    # 01:30 EDT on the day New York falls back; 01:30 happens twice. Every instant from the
    # first 01:30 on is in the November period (it was split in two, both sides of October).
    anchor = at_wall(NY, 2024, 10, 3, 1, 30)
    tz = ZoneInfo(NY)
    first = at_wall(NY, 2024, 11, 3, 1, 30)
    for minutes in (0, 15, 30, 60, 70, 120):
        moment = first + timedelta(minutes=minutes)
        assert window_start(to_micros(moment), "MONTH", tz, anchor) == to_micros(first)


def test_day_windows_cut_a_period_at_local_midnights() -> None:
    period = Period(utc(2024, 3, 9, 12), utc(2024, 3, 11, 12))
    assert day_windows(period, NY) == [
        Period(utc(2024, 3, 9, 12), utc(2024, 3, 10, 5)),
        Period(utc(2024, 3, 10, 5), utc(2024, 3, 11, 4)),
        Period(utc(2024, 3, 11, 4), utc(2024, 3, 11, 12)),
    ]
    assert day_windows(Period(utc(2024, 1, 1), utc(2024, 1, 1)), NY) == []


@pytest.mark.parametrize(
    ("moment", "months", "day", "expected"),
    [
        (datetime(2024, 1, 31, 10), 1, None, datetime(2024, 2, 29, 10)),
        (datetime(2023, 1, 31), 1, None, datetime(2023, 2, 28)),
        (datetime(2024, 2, 29), 1, 31, datetime(2024, 3, 31)),
        (datetime(2024, 2, 29), 12, None, datetime(2025, 2, 28)),
        (datetime(2024, 12, 31), 2, None, datetime(2025, 2, 28)),
        (datetime(2024, 3, 31), -1, None, datetime(2024, 2, 29)),
        (datetime(2024, 1, 15), -13, None, datetime(2022, 12, 15)),
        (datetime(2024, 4, 30), 1, 31, datetime(2024, 5, 31)),
    ],
)
def test_golden_add_months(
    moment: datetime, months: int, day: int | None, expected: datetime
) -> None:
    assert add_months(moment, months, day) == expected


def test_calendar_anchor_in_a_half_hour_zone() -> None:
    # Lord Howe is at +11:00 in January: Feb 1 00:00 there is Jan 31 13:00 UTC.
    assert calendar_anchor(utc(2024, 1, 15), "MONTHLY", LH) == utc(2024, 1, 31, 13)


def test_unknown_units_are_refused() -> None:
    with pytest.raises(ValueError):
        calendar_window(utc(2024, 1, 1), "FORTNIGHT")
    with pytest.raises(ValueError):
        window_start(0, "YEAR", ZoneInfo("UTC"))  # not a usage window size
    with pytest.raises(ValueError):
        period_containing(utc(2024, 1, 1), "NEVER", 1, utc(2024, 2, 1))
