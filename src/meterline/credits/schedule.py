"""When a credit grant applies and when its credits expire. Pure: no I/O.

* The grant's anchor is the later of its ``start_date`` (none: the subscription's start)
  and the subscription's ``start_date``.
* ONETIME: one application, at the anchor.
* RECURRING: one application at the start of each period of ``period_count`` ×
  ``period`` counted from the anchor on the subscription's wall clock
  (``kernel.calendar``: months clamp to the month's last day).
* Nothing applies at or after the stop: the grant's ``end_date`` or the subscription's end,
  whichever is sooner; nothing applies before its period has started (``start <= now``).
* Expiry: NEVER, none; DURATION, ``expiration_duration`` × ``expiration_duration_unit``
  after the application's period start; BILLING_CYCLE, the end of the subscription's
  billing period that contains the application's period start.

A subscription that was down for a long time catches up at most :data:`MAX_PERIODS` periods
per grant and run (the next runs take the rest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meterline.kernel import calendar

MAX_PERIODS = 400


@dataclass(frozen=True)
class GrantTerms:
    """What the schedule reads of a grant."""

    cadence: str
    period: str | None
    period_count: int | None
    start_date: datetime | None
    end_date: datetime | None
    expiration_type: str
    expiration_duration: int | None
    expiration_duration_unit: str | None


@dataclass(frozen=True)
class SubscriptionTerms:
    """What the schedule reads of a subscription."""

    start_date: datetime
    end: datetime | None  # end_date or cancel_at, whichever is sooner
    billing_anchor: datetime
    billing_period: str
    billing_period_count: int
    timezone: str


def anchor(grant: GrantTerms, sub: SubscriptionTerms) -> datetime:
    start = grant.start_date or sub.start_date
    return max(start, sub.start_date)


def _stop(grant: GrantTerms, sub: SubscriptionTerms) -> datetime | None:
    ends = [d for d in (grant.end_date, sub.end) if d is not None]
    return min(ends) if ends else None


def due_periods(
    grant: GrantTerms,
    sub: SubscriptionTerms,
    now: datetime,
    *,
    after: datetime | None = None,
    limit: int = MAX_PERIODS,
) -> list[calendar.Period]:
    """The periods whose application is due at ``now``, oldest first, at most ``limit``;
    ``after``: only those starting after it (the last one applied). A ONETIME period's
    ``end`` is its start."""
    first = anchor(grant, sub)
    stop = _stop(grant, sub)
    if grant.cadence == "ONETIME":
        due = first <= now and (stop is None or first < stop)
        fresh = after is None or first > after
        return [calendar.Period(first, first)] if due and fresh else []
    period, count = grant.period or "MONTHLY", grant.period_count or 1
    index = 0
    if after is not None and after >= first:
        index = _index_after(first, period, count, after, sub.timezone)
    found: list[calendar.Period] = []
    while len(found) < limit:
        start = calendar.period_boundary(first, period, count, index, sub.timezone)
        if start > now or (stop is not None and start >= stop):
            break
        end = calendar.period_boundary(first, period, count, index + 1, sub.timezone)
        found.append(calendar.Period(start, end))
        index += 1
    return found


def _index_after(first: datetime, period: str, count: int, after: datetime, tz: str) -> int:
    """The index of the first period starting after ``after`` (>= ``first``): boundaries
    grow with their index, so a doubling then a bisection finds it in O(log n)."""

    def starts_by_after(index: int) -> bool:
        return calendar.period_boundary(first, period, count, index, tz) <= after

    low, high = 0, 1
    while starts_by_after(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if starts_by_after(middle):
            low = middle
        else:
            high = middle
    return high


def expiry(grant: GrantTerms, sub: SubscriptionTerms, start: datetime) -> datetime | None:
    """When the credits applied for the period starting at ``start`` expire."""
    if grant.expiration_type == "DURATION":
        unit = grant.expiration_duration_unit or "DAY"
        return calendar.period_boundary(
            start, unit, grant.expiration_duration or 1, 1, sub.timezone
        )
    if grant.expiration_type == "BILLING_CYCLE":
        return calendar.period_containing(
            sub.billing_anchor, sub.billing_period, sub.billing_period_count, start, sub.timezone
        ).end
    return None
