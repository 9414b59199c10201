"""Day-based proration (reference §5.6, golden cases §6.4). Pure.

Days are calendar days in the customer's time zone. A day belongs to whoever holds its
start (local midnight): a window ``[start, end)`` has ``day(end) − day(start)`` days, where
``day(t)`` is t's local date, or the next date when t is not at local midnight. So a month
has its real number of days (March: 31, from 03-01 00:00 to 04-01 00:00, or from 03-15 10:37
to 04-15 10:37), the parts of a cut period add up to it exactly, a cancelled or changed
subscription keeps the day it is cancelled or changed on (that day was used), and a
subscription starting at 10:00 is not charged its first, partial day. The coefficient of a
change on ``proration_date`` is its days to the period end over the period's days;
upstream's inclusive count over an inclusive end gives the same 17/31 for its golden case
(03-01 → 03-31, change 03-15 00:00). A DST day counts as one day like any other, because only
calendar dates are compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.invoicing.amounts import ZERO
from meterline.kernel.money import in_money_context, minor_units, round_money

ONE = Decimal(1)


def days_between(start: datetime, end: datetime, timezone: str = "UTC") -> int:
    """Calendar days from ``start`` to ``end`` in ``timezone``; the same day is 0."""
    tz = ZoneInfo(timezone)
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


def _day(moment: datetime, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz)
    day = local.date()
    return day if local.time() == time(0) else day + timedelta(days=1)


def billing_days(start: datetime, end: datetime, timezone: str = "UTC") -> int:
    """The days of ``[start, end)`` (module docstring: a day is its end's)."""
    tz = ZoneInfo(timezone)
    return (_day(end, tz) - _day(start, tz)).days


def coefficient(
    period_start: datetime, period_end: datetime, proration_date: datetime, timezone: str = "UTC"
) -> Decimal:
    """The share of ``[period_start, period_end)`` left at ``proration_date`` (0..1)."""
    return share(proration_date, period_end, period_start, period_end, timezone)


def share(
    start: datetime,
    end: datetime,
    full_start: datetime,
    full_end: datetime,
    timezone: str = "UTC",
) -> Decimal:
    """The days of ``[start, end)`` over the days of the full period ``[full_start,
    full_end)`` (0..1): what a fixed charge bills for part of a period."""
    total = billing_days(full_start, full_end, timezone)
    if total <= 0:
        return ONE if end > start else ZERO
    days = billing_days(max(start, full_start), min(end, full_end), timezone)
    return Decimal(max(0, min(days, total))) / Decimal(total)


def capped_credit(potential: Decimal, paid: Decimal, prior_credits: Decimal = ZERO) -> Decimal:
    """A credit never exceeds what was paid less what was already credited; never < 0."""
    available = paid - prior_credits
    return max(ZERO, min(potential, available))


@dataclass(frozen=True)
class Proration:
    coefficient: Decimal
    credit: Decimal  # ≤ 0: money given back for the unused part of the old item
    charge: Decimal  # ≥ 0: the new item for the rest of the period
    net: Decimal


@in_money_context
def prorate_change(
    *,
    period_start: datetime,
    period_end: datetime,
    proration_date: datetime,
    currency: str,
    old_amount: Decimal,
    new_amount: Decimal,
    paid: Decimal,
    prior_credits: Decimal = ZERO,
    timezone: str = "UTC",
    cap_credit: bool = True,
) -> Proration:
    """Credit for the old item's unused days and charge for the new item's, each rounded.

    ``old_amount``/``new_amount`` are full-period amounts (unit price × quantity). Set
    ``cap_credit=False`` for a quantity change, where upstream does not cap.
    """
    coeff = coefficient(period_start, period_end, proration_date, timezone)
    potential = round_money(old_amount * coeff, minor_units(currency))
    credit_value = capped_credit(potential, paid, prior_credits) if cap_credit else potential
    credit = -credit_value
    charge = round_money(new_amount * coeff, minor_units(currency))
    return Proration(coefficient=coeff, credit=credit, charge=charge, net=charge + credit)


@in_money_context
def prorate_cancel(
    *,
    period_start: datetime,
    period_end: datetime,
    cancel_date: datetime,
    currency: str,
    amount: Decimal,
    paid: Decimal,
    prior_credits: Decimal = ZERO,
    timezone: str = "UTC",
) -> Decimal:
    """The (≤ 0) credit for an ADVANCE charge of ``amount`` for the whole period, cancelled
    on ``cancel_date``: the days after the cancel day (the whole day when the cancel is at
    its local midnight), capped at what was paid less what was already credited."""
    coeff = coefficient(period_start, period_end, cancel_date, timezone)
    potential = round_money(amount * coeff, minor_units(currency))
    return -capped_credit(potential, paid, prior_credits)
