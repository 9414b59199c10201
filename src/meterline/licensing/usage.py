"""The arithmetic of reported usage: windows, folding a report, and limits. Pure: no I/O.

* A *window* is the period a counter belongs to: lifetime (no reset period), or the
  ``HOUR``…``YEAR`` window containing an instant, aligned on the UTC calendar (ISO weeks
  start on Monday) or phased off the instance's license start (month and year days clamped
  to the month's length: a license starting Jan 31 resets Feb 29, Mar 31, Apr 30, ...).
* ``append`` folds a value into the counter by the aggregation method and counts it;
  ``set`` overwrites the value and the count becomes 1.
* A grant of ``limit`` with overage ``p`` percent allows up to ``limit·(1 + p/100)``;
  ``limit`` None is unlimited, ``p`` None is unlimited overage.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from meterline.kernel.money import MONEY_CONTEXT, SMALLEST

AGGREGATION_METHODS = ("COUNT", "SUM", "AVERAGE", "MIN", "MAX", "LATEST")
RESET_PERIODS = ("HOUR", "DAY", "WEEK", "MONTH", "YEAR")
RESET_ANCHORS = ("CALENDAR", "LICENSE_START")
BEHAVIORS = ("append", "set")

# Counters are stored with 12 decimal places (Money); an average is rounded there once.
QUANTUM = SMALLEST

_FIXED = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1), "WEEK": timedelta(weeks=1)}


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None

    @property
    def is_lifetime(self) -> bool:
        return self.start is None


LIFETIME = Window(None, None)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int, day: int | None = None) -> datetime:
    """``moment`` moved by ``months``, on ``day`` (default: its own) clamped to the month."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    wanted = day if day is not None else moment.day
    return moment.replace(
        year=year, month=month, day=min(wanted, calendar.monthrange(year, month)[1])
    )


def _calendar_window(period: str, now: datetime) -> Window:
    if period == "HOUR":
        start = now.replace(minute=0, second=0, microsecond=0)
    elif period == "DAY":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "WEEK":
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())
    elif period == "MONTH":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return Window(start, add_months(start, 1))
    else:  # YEAR
        start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return Window(start, start.replace(year=start.year + 1))
    return Window(start, start + _FIXED[period])


def _anchored_window(period: str, now: datetime, anchor: datetime) -> Window:
    if period in _FIXED:
        size = _FIXED[period]
        steps = (now - anchor) // size  # floor division also handles now < anchor
        start = anchor + steps * size
        return Window(start, start + size)
    step = 12 if period == "YEAR" else 1
    months = (now.year - anchor.year) * 12 + (now.month - anchor.month)
    months -= months % step
    start = add_months(anchor, months, anchor.day)
    if start > now:
        months -= step
        start = add_months(anchor, months, anchor.day)
    return Window(start, add_months(anchor, months + step, anchor.day))


def current_window(
    period: str | None, anchor: str | None, now: datetime, license_start: datetime | None
) -> Window:
    """The window containing ``now``; ``LIFETIME`` when there is no reset period."""
    if not period:
        return LIFETIME
    now = _utc(now)
    if anchor == "LICENSE_START" and license_start is not None:
        return _anchored_window(period, now, _utc(license_start))
    return _calendar_window(period, now)


@dataclass(frozen=True)
class Counter:
    value: Decimal
    event_count: int


ZERO = Counter(Decimal(0), 0)


def in_window(stored: Counter, stored_start: datetime | None, window: Window) -> Counter:
    """The stored counter as seen in ``window``: a counter of an older window reads as zero."""
    if window.is_lifetime:
        return stored
    if stored_start is None or _utc(stored_start) != window.start:
        return ZERO
    return stored


def fold(aggregation: str | None, behavior: str, old: Counter, reported: Decimal) -> Counter:
    """The counter after one report."""
    if behavior == "set":
        return Counter(reported, 1)
    count = old.event_count + 1
    method = aggregation or "SUM"
    # In the money context: the default one rounds past 28 digits.
    ctx = MONEY_CONTEXT
    if method == "SUM":
        value = ctx.add(old.value, reported)
    elif method == "COUNT":
        value = ctx.add(old.value, Decimal(1))
    elif method == "AVERAGE":
        total = ctx.add(ctx.multiply(old.value, Decimal(old.event_count)), reported)
        value = ctx.divide(total, Decimal(count)).quantize(
            QUANTUM, rounding=ROUND_HALF_EVEN, context=ctx
        )
    elif method == "MAX":
        value = max(old.value, reported)
    elif method == "MIN":
        value = min(old.value, reported)
    elif method == "LATEST":
        value = reported
    else:
        raise ValueError(f"unknown aggregation method {method}")
    return Counter(value, count)


def maximum_allowed(limit: Decimal | None, overage_percent: Decimal | None) -> Decimal | None:
    """The highest usage a grant accepts; None = no maximum."""
    if limit is None or overage_percent is None:
        return None
    ctx = MONEY_CONTEXT
    return ctx.add(limit, ctx.divide(ctx.multiply(limit, overage_percent), Decimal(100)))


def exceeds(value: Decimal, limit: Decimal | None, overage_percent: Decimal | None) -> bool:
    """Whether ``value`` passes the grant's maximum (reaching it exactly is allowed)."""
    maximum = maximum_allowed(limit, overage_percent)
    return maximum is not None and value > maximum
