"""Properties of the one calendar over random instants, anchors, units and time zones.

Each window and period is checked against what defines it, not against the code that
computes it: it holds the instant, it is its own window again from its start, it ends where
the next one starts, and months land on the anchor's day clamped to the month. The usage
query's anchored MONTH window is the billing period of a monthly subscription with that
anchor; licensing's LICENSE_START windows are billing periods anchored at the license start.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.kernel import calendar
from meterline.kernel.instants import from_micros, to_micros
from meterline.licensing.usage import current_window
from meterline.metering import windows

ZONES = (
    "UTC",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/London",
)
NATURAL_UNITS = (*calendar.WINDOW_SIZES, *calendar.BILLING_PERIODS, "YEAR")
ANCHORED_UNITS = (*calendar.BILLING_PERIODS, "HOUR", "DAY", "WEEK", "MONTH", "YEAR")
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Instants, often near midnight and DST changes (early hours, spring and autumn)."""
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    wall = datetime(
        draw(st.integers(1995, 2060)),
        draw(st.sampled_from([1, 2, 3, 4, 9, 10, 11, 12])),
        draw(st.integers(1, 28)),
        draw(st.sampled_from([0, 1, 2, 3, 12, 23])),
        draw(st.sampled_from([0, 15, 30, 45, 59])),
        draw(st.integers(0, 59)),
        draw(st.sampled_from([0, 0, 1, 999_999])),
        fold=draw(st.integers(0, 1)),
        tzinfo=zone,
    )
    return wall.astimezone(UTC)


@st.composite
def month_end_anchors(draw: st.DrawFn) -> datetime:
    """Anchors on the 28th-31st, where clamping matters."""
    year, month = draw(st.integers(1995, 2060)), draw(st.integers(1, 12))
    day = draw(st.integers(28, stdlib_calendar.monthrange(year, month)[1]))
    return datetime(year, month, day, draw(st.integers(0, 23)), tzinfo=UTC)


@_SETTINGS
@given(instants(), st.sampled_from(NATURAL_UNITS), st.sampled_from(ZONES))
def test_natural_windows_tile_time(at: datetime, unit: str, zone: str) -> None:
    window = calendar.calendar_window(at, unit, zone)
    assert window.start <= at < window.end
    assert calendar.calendar_window(window.start, unit, zone) == window
    following = calendar.calendar_window(window.end, unit, zone)
    assert following.start == window.end
    if unit in calendar.WINDOW_SIZES:
        start = windows.window_start(to_micros(at), unit, ZoneInfo(zone))
        assert start == to_micros(window.start)


@_SETTINGS
@given(
    st.one_of(instants(), month_end_anchors()),
    instants(),
    st.sampled_from(ANCHORED_UNITS),
    st.integers(1, 3),
    st.sampled_from(ZONES),
)
def test_anchored_periods_tile_time(
    anchor: datetime, at: datetime, unit: str, count: int, zone: str
) -> None:
    period = calendar.period_containing(anchor, unit, count, at, zone)
    assert period.start <= at < period.end
    assert calendar.period_containing(anchor, unit, count, period.start, zone) == period
    assert calendar.period_containing(anchor, unit, count, period.end, zone).start == period.end
    tz = ZoneInfo(zone)
    local_anchor, local_start = anchor.astimezone(tz), period.start.astimezone(tz)
    if unit in ("MONTHLY", "MONTH", "QUARTERLY", "HALF_YEARLY", "ANNUAL", "YEAR"):
        last = stdlib_calendar.monthrange(local_start.year, local_start.month)[1]
        assert local_start.day == min(local_anchor.day, last)


@_SETTINGS
@given(instants(), instants(), st.sampled_from(ZONES))
def test_anchored_month_window_is_the_monthly_billing_period(
    anchor: datetime, at: datetime, zone: str
) -> None:
    start = windows.window_start(to_micros(at), "MONTH", ZoneInfo(zone), anchor)
    assert from_micros(start) == calendar.period_containing(anchor, "MONTHLY", 1, at, zone).start


@_SETTINGS
@given(
    st.one_of(instants(), month_end_anchors()),
    instants(),
    st.sampled_from(["HOUR", "DAY", "WEEK", "MONTH", "YEAR"]),
)
def test_licensing_windows_are_the_calendars(
    license_start: datetime, now: datetime, period: str
) -> None:
    anchored = current_window(period, "LICENSE_START", now, license_start)
    expected = calendar.period_containing(license_start, period, 1, now, "UTC")
    assert (anchored.start, anchored.end) == (expected.start, expected.end)
    natural = current_window(period, "CALENDAR", now, license_start)
    assert natural.start is not None and natural.start <= now < natural.end  # type: ignore[operator]
    assert (natural.start, natural.end) == astuple(calendar.calendar_window(now, period, "UTC"))


@_SETTINGS
@given(instants(), st.integers(0, 24 * 70), st.sampled_from(ZONES))
def test_day_windows_tile_the_period_one_local_day_each(
    start: datetime, hours: int, zone: str
) -> None:
    period = calendar.Period(start, start + timedelta(hours=hours, minutes=7))
    windows = calendar.day_windows(period, zone)
    assert windows[0].start == period.start and windows[-1].end == period.end
    for window, following in pairwise(windows):
        assert window.end == following.start
    for window in windows:
        day = calendar.calendar_window(window.start, "DAY", zone)
        assert day.start <= window.start < window.end <= day.end


@_SETTINGS
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-600, 600),
    st.integers(-600, 600),
    st.integers(1, 31),
)
def test_add_months_clamps_and_composes(
    moment: datetime, first: int, second: int, day: int
) -> None:
    moved = calendar.add_months(moment, first, day)
    months = (moved.year - moment.year) * 12 + moved.month - moment.month
    assert months == first
    assert moved.day == min(day, stdlib_calendar.monthrange(moved.year, moved.month)[1])
    assert moved.time() == moment.time()
    # Aiming at the same day, two steps are one step.
    assert calendar.add_months(moved, second, day) == calendar.add_months(
        moment, first + second, day
    )
