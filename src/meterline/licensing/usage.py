"""The arithmetic of reported usage: windows, folding a report, and limits. Pure: no I/O.

* A *window* is the period a counter belongs to: lifetime (no reset period), or the
  ``HOUR``…``YEAR`` window containing an instant (``kernel/calendar.py``), aligned on the
  UTC calendar (ISO weeks start on Monday) or anchored at the instance's license start
  (month and year days clamped to the month's length: a license starting Jan 31 resets
  Feb 29, Mar 31, Apr 30, ...).
* ``append`` folds a value into the counter by the aggregation method and counts it;
  ``set`` overwrites the value and the count becomes 1.
* A grant of ``limit`` with overage ``p`` percent allows up to ``limit·(1 + p/100)``;
  ``limit`` None is unlimited, ``p`` None is unlimited overage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from meterline.kernel import calendar
from meterline.kernel.money import MONEY_CONTEXT, SMALLEST

AGGREGATION_METHODS = ("COUNT", "SUM", "AVERAGE", "MIN", "MAX", "LATEST")
RESET_PERIODS = ("HOUR", "DAY", "WEEK", "MONTH", "YEAR")
RESET_ANCHORS = ("CALENDAR", "LICENSE_START")
BEHAVIORS = ("append", "set")

# Counters are stored with 12 decimal places (Money); an average is rounded there once.
QUANTUM = SMALLEST


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None

    @property
    def is_lifetime(self) -> bool:
        return self.start is None


LIFETIME = Window(None, None)


def current_window(
    period: str | None, anchor: str | None, now: datetime, license_start: datetime | None
) -> Window:
    """The window containing ``now``; ``LIFETIME`` when there is no reset period."""
    if not period:
        return LIFETIME
    if anchor == "LICENSE_START" and license_start is not None:
        window = calendar.period_containing(license_start, period, 1, now)
    else:
        window = calendar.calendar_window(now, period)
    return Window(window.start, window.end)


@dataclass(frozen=True)
class Counter:
    value: Decimal
    event_count: int


ZERO = Counter(Decimal(0), 0)


def in_window(stored: Counter, stored_start: datetime | None, window: Window) -> Counter:
    """The stored counter as seen in ``window``: a counter of an older window reads as zero."""
    if window.is_lifetime:
        return stored
    if stored_start is None:
        return ZERO
    if stored_start.tzinfo is None:  # a naive instant is UTC
        stored_start = stored_start.replace(tzinfo=UTC)
    if stored_start != window.start:
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
