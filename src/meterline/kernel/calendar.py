"""Pure billing-period maths. No I/O.

Periods are computed on the wall clock of the customer's time zone and returned as aware
UTC instants. Month arithmetic clamps to the month's last day and always aims at the
anchor's day of month, so a Jan 31 anchor gives Feb 29, then Mar 31 (never drifts to the
29th). Annual periods keep the anchor's month (Feb 29 → Feb 28 in common years).

* anniversary: periods start at the anchor (default: the start date).
* calendar: the anchor is the first natural boundary after the start (1st of the month,
  Monday, midnight, quarter or half-year start, Jan 1); the first period is the short
  stub from the start to that boundary.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

BILLING_PERIODS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUAL")
RESET_PERIODS = (*BILLING_PERIODS, "NEVER")
BILLING_CYCLES = ("anniversary", "calendar")
_MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUAL": 12}
_DAYS = {"DAILY": 1, "WEEKLY": 7}


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def _zone(timezone: str | None) -> ZoneInfo:
    return ZoneInfo(timezone or "UTC")


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def _utc(local_wall: datetime, tz: ZoneInfo) -> datetime:
    return local_wall.replace(tzinfo=tz).astimezone(UTC)


def _add_months(anchor_local: datetime, months: int) -> datetime:
    """``anchor + months`` on the wall clock, the day clamped to the target month."""
    index = anchor_local.year * 12 + (anchor_local.month - 1) + months
    year, month = divmod(index, 12)
    day = min(anchor_local.day, calendar.monthrange(year, month + 1)[1])
    return anchor_local.replace(year=year, month=month + 1, day=day, tzinfo=None)


def _months_between(a: datetime, b: datetime) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def period_boundary(
    anchor: datetime, period: str, count: int, index: int, timezone: str | None = None
) -> datetime:
    """The start of the ``index``-th period counted from ``anchor`` (index 0 = anchor)."""
    if count < 1:
        raise ValueError("billing_period_count must be at least 1")
    tz = _zone(timezone)
    local = _local(anchor, tz)
    if period in _MONTHS:
        wall = _add_months(local, _MONTHS[period] * count * index)
    elif period in _DAYS:
        wall = local.replace(tzinfo=None) + timedelta(days=_DAYS[period] * count * index)
    else:
        raise ValueError(f"unknown billing period {period!r}")
    return _utc(wall, tz)


def next_billing_date(
    current_start: datetime,
    anchor: datetime,
    period: str,
    count: int = 1,
    timezone: str | None = None,
) -> datetime:
    """The end of the period that starts at ``current_start``, aligned to ``anchor``."""
    return period_containing(anchor, period, count, current_start, timezone).end


def period_containing(
    anchor: datetime,
    period: str,
    count: int,
    at: datetime,
    timezone: str | None = None,
) -> Period:
    """The anchor-aligned period ``[start, end)`` that contains ``at``.

    Before the anchor, periods are counted backwards from it the same way.
    """
    if count < 1:
        raise ValueError("billing_period_count must be at least 1")
    tz = _zone(timezone)
    local_anchor = _local(anchor, tz)
    local_at = _local(at, tz)
    if period in _MONTHS:
        step = _MONTHS[period] * count
        guess = _months_between(local_anchor, local_at) // step
    elif period in _DAYS:
        step_days = _DAYS[period] * count
        days = (local_at.replace(tzinfo=None) - local_anchor.replace(tzinfo=None)).days
        guess = days // step_days
    else:
        raise ValueError(f"unknown billing period {period!r}")
    index = guess + 1
    # The guess is off by at most one or two steps (day clamping, clock time, DST).
    while period_boundary(anchor, period, count, index, timezone) <= at:
        index += 1
    while period_boundary(anchor, period, count, index - 1, timezone) > at:
        index -= 1
    return Period(
        start=period_boundary(anchor, period, count, index - 1, timezone),
        end=period_boundary(anchor, period, count, index, timezone),
    )


def calendar_anchor(start: datetime, period: str, timezone: str | None = None) -> datetime:
    """The first natural boundary of ``period`` strictly after ``start`` (customer's zone)."""
    tz = _zone(timezone)
    local = _local(start, tz).replace(tzinfo=None)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAILY":
        wall = midnight + timedelta(days=1)
    elif period == "WEEKLY":
        wall = midnight + timedelta(days=7 - midnight.weekday())
    elif period in _MONTHS:
        step = _MONTHS[period]
        first = midnight.replace(day=1)
        month_index = first.year * 12 + first.month - 1
        next_index = (month_index // step + 1) * step
        year, month = divmod(next_index, 12)
        wall = first.replace(year=year, month=month + 1)
    else:
        raise ValueError(f"unknown billing period {period!r}")
    return _utc(wall, tz)


def first_period(
    start: datetime,
    period: str,
    count: int = 1,
    *,
    billing_cycle: str = "anniversary",
    billing_anchor: datetime | None = None,
    timezone: str | None = None,
) -> tuple[datetime, Period]:
    """The billing anchor and the first period of a subscription starting at ``start``."""
    if billing_cycle == "calendar":
        anchor = calendar_anchor(start, period, timezone)
        return anchor, Period(start=start, end=anchor)
    anchor = billing_anchor or start
    if anchor <= start:
        return anchor, period_containing(anchor, period, count, start, timezone)
    # A future anchor: the first period is the stub up to it.
    return anchor, Period(start=start, end=anchor)


def current_period(
    period_start: datetime,
    period_end: datetime,
    anchor: datetime,
    period: str,
    count: int,
    at: datetime,
    timezone: str | None = None,
) -> Period:
    """The stored period if it still holds ``at``, else the anchor-aligned one that does."""
    if period_start <= at < period_end:
        return Period(period_start, period_end)
    if at < period_start:
        return Period(period_start, period_end)
    return period_containing(anchor, period, count, at, timezone)


def usage_window(
    reset_period: str | None,
    *,
    subscription_period: Period,
    subscription_start: datetime,
    billing_period: str,
    billing_period_count: int,
    anchor: datetime,
    at: datetime,
    timezone: str | None = None,
) -> Period | None:
    """The window a metered entitlement counts usage over, at ``at``.

    The billing period when the reset period equals it (or is not set); ``None`` for
    ``NEVER`` (callers count everything since the subscription started); the local calendar
    day for ``DAILY``; otherwise the anchor-aligned reset period that holds ``at``.
    """
    if reset_period is None or (reset_period == billing_period and billing_period_count == 1):
        return subscription_period
    if reset_period == "NEVER":
        return None
    if reset_period in ("DAILY",):
        tz = _zone(timezone)
        local = _local(at, tz).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        start = _utc(local, tz)
        return Period(start, _utc(local + timedelta(days=1), tz))
    return period_containing(anchor, reset_period, 1, at, timezone)
