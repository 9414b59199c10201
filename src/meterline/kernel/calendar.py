"""The one calendar: billing periods, usage windows, reset windows, anchors. Pure, no I/O.

Every package computes its periods and windows here: subscriptions and invoices (billing
periods), entitlement checks (reset windows), usage queries (aggregation windows) and
licensing counters (reset windows of reported usage).

* Instants in and out are aware UTC ``datetime`` (a naive one is taken as UTC). The usage
  queries' integer-microsecond forms of these windows are ``metering/windows.py``: this
  module imports nothing of ours, not even ``kernel.instants``.
* Periods and windows are computed on the wall clock of a time zone (the customer's; UTC
  when none) and returned as UTC instants, so a day is a local day across DST changes.
* Month arithmetic (:func:`add_months`) clamps to the month's last day and always aims at
  the anchor's day of month, so a Jan 31 anchor gives Feb 29, then Mar 31 (never drifts to
  the 29th). Annual periods keep the anchor's month (Feb 29 → Feb 28 in common years).
* Weeks start on Monday (ISO 8601).

Units. One table serves the three vocabularies the wire uses:

* billing and entitlement reset periods: ``DAILY WEEKLY MONTHLY QUARTERLY HALF_YEARLY
  ANNUAL`` (and ``NEVER`` for a reset);
* licensing reset periods: ``HOUR DAY WEEK MONTH YEAR``;
* usage window sizes: ``MINUTE 15MIN 30MIN HOUR 3HOUR 6HOUR 12HOUR DAY WEEK MONTH``.

Two kinds of period:

* *anchored* (:func:`period_boundary`, :func:`period_containing`): periods of ``count``
  units counted from an anchor, forwards and backwards; days and weeks keep the anchor's
  wall-clock time, months and years its day of month (clamped) and wall-clock time, hours
  are whole hours from the anchor;
* *natural* (:func:`calendar_window`, :func:`calendar_anchor`, :func:`window_start`): the
  calendar's own boundaries: the minute-of-day multiple, midnight, Monday, the 1st of the
  month, the quarter and half-year starts, Jan 1.

Subscriptions use both: an anniversary cycle is anchored at its start; a calendar cycle
anchors at the first natural boundary after its start, the first period being the short
stub up to it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

BILLING_PERIODS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUAL")
RESET_PERIODS = (*BILLING_PERIODS, "NEVER")
BILLING_CYCLES = ("anniversary", "calendar")
# The usage query's window sizes (``window_size``).
WINDOW_SIZES = (
    *("MINUTE", "15MIN", "30MIN", "HOUR", "3HOUR", "6HOUR", "12HOUR"),
    *("DAY", "WEEK", "MONTH"),
)
WINDOW_SIZE_SET = frozenset(WINDOW_SIZES)
# The end of a window that never resets (usage since the subscription started).
NEVER_ENDS = datetime(9999, 1, 1, tzinfo=UTC)

# Every unit of every vocabulary: a number of months, or a wall-clock step.
_MONTHS = {"MONTHLY": 1, "MONTH": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUAL": 12, "YEAR": 12}
_WALL = {
    "HOUR": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "DAY": timedelta(days=1),
    "WEEKLY": timedelta(days=7),
    "WEEK": timedelta(days=7),
}
# Units shorter than a day: their natural boundaries are multiples of the local day's minutes.
_MINUTES_OF_DAY = {
    "MINUTE": 1,
    "15MIN": 15,
    "30MIN": 30,
    "HOUR": 60,
    "3HOUR": 180,
    "6HOUR": 360,
    "12HOUR": 720,
}
_DAY_UNITS = frozenset({"DAILY", "DAY"})
_WEEK_UNITS = frozenset({"WEEKLY", "WEEK"})


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def zone(timezone: str | ZoneInfo | None) -> ZoneInfo:
    """The time zone named ``timezone`` (UTC when none)."""
    if isinstance(timezone, ZoneInfo):
        return timezone
    return ZoneInfo(timezone or "UTC")


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def _utc(local_wall: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time of ``tz`` (naive, or aware in ``tz``) as a UTC instant. A time a
    DST change skips or repeats resolves as ``zoneinfo`` does (``fold`` picks the offset)."""
    return local_wall.replace(tzinfo=tz).astimezone(UTC)


def add_months(moment: datetime, months: int, day: int | None = None) -> datetime:
    """``moment`` moved by ``months`` on its wall clock, on ``day`` (default: its own day)
    clamped to the target month's last day. The time of day and ``tzinfo`` are kept."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    wanted = day if day is not None else moment.day
    return moment.replace(
        year=year, month=month, day=min(wanted, calendar.monthrange(year, month)[1])
    )


def _months_between(a: datetime, b: datetime) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def _check(period: str, count: int) -> None:
    if count < 1:
        raise ValueError("billing_period_count must be at least 1")
    if period not in _MONTHS and period not in _WALL:
        raise ValueError(f"unknown billing period {period!r}")


def _boundary(
    local_anchor: datetime, period: str, count: int, index: int, tz: ZoneInfo
) -> datetime:
    wall = local_anchor.replace(tzinfo=None)
    if period in _MONTHS:
        wall = add_months(wall, _MONTHS[period] * count * index)
    else:
        wall = wall + _WALL[period] * (count * index)
    return _utc(wall, tz)


def period_boundary(
    anchor: datetime,
    period: str,
    count: int,
    index: int,
    timezone: str | ZoneInfo | None = None,
) -> datetime:
    """The start of the ``index``-th period counted from ``anchor`` (index 0 = anchor)."""
    _check(period, count)
    tz = zone(timezone)
    return _boundary(local_time(anchor, tz), period, count, index, tz)


def period_containing(
    anchor: datetime,
    period: str,
    count: int,
    at: datetime,
    timezone: str | ZoneInfo | None = None,
) -> Period:
    """The anchor-aligned period ``[start, end)`` that contains ``at``.

    Before the anchor, periods are counted backwards from it the same way. Found by
    arithmetic, not by iterating over history.
    """
    _check(period, count)
    tz = zone(timezone)
    local_anchor = local_time(anchor, tz)
    local_at = local_time(at, tz)
    if period in _MONTHS:
        guess = _months_between(local_anchor, local_at) // (_MONTHS[period] * count)
    else:
        step = _WALL[period] * count
        guess = (local_at.replace(tzinfo=None) - local_anchor.replace(tzinfo=None)) // step
    # The guess is off by at most one or two steps (day clamping, clock time, DST).
    index = guess + 1
    end = _boundary(local_anchor, period, count, index, tz)
    while end <= at:
        index += 1
        end = _boundary(local_anchor, period, count, index, tz)
    start = _boundary(local_anchor, period, count, index - 1, tz)
    while start > at:
        index -= 1
        end, start = start, _boundary(local_anchor, period, count, index - 1, tz)
    return Period(start=start, end=end)


def next_billing_date(
    current_start: datetime,
    anchor: datetime,
    period: str,
    count: int = 1,
    timezone: str | None = None,
) -> datetime:
    """The end of the period that starts at ``current_start``, aligned to ``anchor``."""
    return period_containing(anchor, period, count, current_start, timezone).end


# ---- natural boundaries ---------------------------------------------------------------------


def unit_start_wall(local: datetime, unit: str) -> datetime:
    """The natural start of the ``unit`` holding the wall-clock time ``local``; ``fold`` and
    ``tzinfo`` are kept (``replace``), so a repeated hour keeps its offset."""
    if unit in _MINUTES_OF_DAY:
        minutes = _MINUTES_OF_DAY[unit]
        total = local.hour * 60 + local.minute
        floored = total - total % minutes
        return local.replace(hour=floored // 60, minute=floored % 60, second=0, microsecond=0)
    if unit in _DAY_UNITS:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in _WEEK_UNITS:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=midnight.weekday())
    if unit in _MONTHS:
        step = _MONTHS[unit]
        index = local.year * 12 + local.month - 1
        year, month = divmod(index - index % step, 12)
        return local.replace(
            year=year, month=month + 1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    raise ValueError(f"unknown period {unit!r}")


def _next_unit_wall(start: datetime, unit: str) -> datetime:
    if unit in _MONTHS:
        return add_months(start, _MONTHS[unit])
    if unit in _MINUTES_OF_DAY:
        return start + timedelta(minutes=_MINUTES_OF_DAY[unit])
    return start + _WALL[unit]


def calendar_window(at: datetime, unit: str, timezone: str | ZoneInfo | None = None) -> Period:
    """The natural ``unit`` that holds ``at`` in ``timezone``: the minute-of-day multiple
    (``MINUTE``…``12HOUR``), the day, the week from Monday, the month, the quarter or half
    year, the year."""
    tz = zone(timezone)
    start = unit_start_wall(local_time(at, tz), unit).replace(tzinfo=None)
    return Period(_utc(start, tz), _utc(_next_unit_wall(start, unit), tz))


def calendar_anchor(start: datetime, period: str, timezone: str | None = None) -> datetime:
    """The first natural boundary of ``period`` strictly after ``start`` (customer's zone)."""
    if period not in _MONTHS and period not in _WALL:
        raise ValueError(f"unknown billing period {period!r}")
    return calendar_window(start, period, timezone).end


def day_windows(period: Period, timezone: str | ZoneInfo | None = None) -> list[Period]:
    """``period`` cut at each local midnight of ``timezone`` (each local day's part)."""
    tz = zone(timezone)
    windows = []
    cursor = period.start
    while cursor < period.end:
        boundary = min(period.end, calendar_window(cursor, "DAY", tz).end)
        windows.append(Period(cursor, boundary))
        cursor = boundary
    return windows


# ---- subscriptions ------------------------------------------------------------------------


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
) -> Period:
    """The window a metered entitlement counts usage over, at ``at``.

    The billing period when the reset period equals it (or is not set); for ``NEVER``
    everything since the subscription started (up to :data:`NEVER_ENDS`); the local
    calendar day for ``DAILY``; otherwise the anchor-aligned reset period that holds ``at``.
    """
    if reset_period is None or (reset_period == billing_period and billing_period_count == 1):
        return subscription_period
    if reset_period == "NEVER":
        return Period(subscription_start, NEVER_ENDS)
    if reset_period in _DAY_UNITS:
        return calendar_window(at, "DAY", timezone)
    return period_containing(anchor, reset_period, 1, at, timezone)
