"""Day-based proration (reference §5.6, golden cases §6.4). Pure.

Days are calendar days in the customer's time zone, counted inclusively: the coefficient of
a change on ``proration_date`` within ``[period_start, period_end]`` is
``(days(proration_date → period_end) + 1) / (days(period_start → period_end) + 1)``.
A DST day counts as one day like any other, because only calendar dates are compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.invoicing.amounts import ZERO
from meterline.kernel.money import in_money_context, minor_units, round_money


def days_between(start: datetime, end: datetime, timezone: str = "UTC") -> int:
    """Calendar days from ``start`` to ``end`` in ``timezone``; the same day is 0."""
    tz = ZoneInfo(timezone)
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


def coefficient(
    period_start: datetime, period_end: datetime, proration_date: datetime, timezone: str = "UTC"
) -> Decimal:
    """The share of the period left at ``proration_date``, both ends counted (0..1)."""
    total = days_between(period_start, period_end, timezone) + 1
    remaining = days_between(proration_date, period_end, timezone) + 1
    if total <= 0:
        return ZERO
    remaining = max(0, min(remaining, total))
    return Decimal(remaining) / Decimal(total)


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
    """The (≤ 0) credit for an ADVANCE charge cancelled on ``cancel_date``, capped at paid.

    The cancel day itself was used, so the credit covers the days after it.
    """
    total = days_between(period_start, period_end, timezone) + 1
    unused = days_between(cancel_date, period_end, timezone)
    if total <= 0 or unused <= 0:
        return ZERO
    potential = round_money(amount * Decimal(unused) / Decimal(total), minor_units(currency))
    return -capped_credit(potential, paid, prior_credits)
