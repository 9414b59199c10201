"""Invoice arithmetic: pure functions over ``Decimal``.

Each invoice line is rounded once, to the currency's minor units, half away from zero
(``kernel.money.round_money``); the arithmetic runs in ``kernel.money.MONEY_CONTEXT``.
Nothing else is rounded: the subtotal is the sum of the rounded lines and the total is
derived from it, so an invoice always adds up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from meterline.kernel.errors import InvalidOperation
from meterline.kernel.money import BOUND_TEXT, in_money_context, minor_units, round_money, within

ZERO = Decimal(0)


@in_money_context
def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """``percent`` % of ``amount``, rounded like a line: 15.5 % of 10.00 → 1.55."""
    return round_money(amount * percent / Decimal(100), minor_units(currency))


def capped_discount(subtotal: Decimal, discount: Decimal) -> Decimal:
    """A fixed discount never takes an invoice below zero: 10 off 5 → 5."""
    return max(ZERO, min(discount, subtotal))


@dataclass(frozen=True)
class InvoiceTotals:
    subtotal: Decimal
    total_discount: Decimal
    total_prepaid_credits_applied: Decimal
    total_tax: Decimal
    total: Decimal
    amount_due: Decimal
    amount_paid: Decimal
    amount_remaining: Decimal


@in_money_context
def invoice_totals(
    line_amounts: Iterable[Decimal],
    currency: str,
    *,
    prepaid_credits: Decimal = ZERO,
    discount: Decimal = ZERO,
    tax: Decimal = ZERO,
    inclusive_tax: Decimal = ZERO,
    amount_paid: Decimal = ZERO,
) -> InvoiceTotals:
    """Totals of an invoice whose lines are already rounded.

    ``subtotal = Σ lines − inclusive_tax`` (the part of ``tax`` the lines' prices already
    held: the subtotal is net); ``total = max(0, subtotal − prepaid credits − discount +
    tax)``; ``amount_due = total``; ``amount_remaining = max(0, amount_due − amount_paid)``.
    """
    subtotal = sum((round_money(a, minor_units(currency)) for a in line_amounts), ZERO)
    subtotal -= round_money(inclusive_tax, minor_units(currency))
    prepaid = round_money(prepaid_credits, minor_units(currency))
    discount = round_money(discount, minor_units(currency))
    tax = round_money(tax, minor_units(currency))
    total = max(ZERO, subtotal - prepaid - discount + tax)
    paid = round_money(amount_paid, minor_units(currency))
    for name, value in (("subtotal", subtotal), ("total", total), ("amount_paid", paid)):
        if not within(value):
            # Lines within the bounds can add up past NUMERIC(38, 12): refused as this
            # invoice's problem, never a database overflow.
            raise InvalidOperation(
                f"the invoice's {name} would pass {BOUND_TEXT}", details={name: str(value)}
            )
    return InvoiceTotals(
        subtotal=subtotal,
        total_discount=discount,
        total_prepaid_credits_applied=prepaid,
        total_tax=tax,
        total=total,
        amount_due=total,
        amount_paid=paid,
        amount_remaining=max(ZERO, total - paid),
    )


@dataclass(frozen=True)
class Grant:
    """What billing needs of one metered entitlement."""

    is_enabled: bool
    usage_limit: Decimal | None  # None = unlimited
    usage_reset_period: str | None = None
    is_soft_limit: bool = False


@dataclass(frozen=True)
class Allowance:
    """The grants of one feature for one subscription, combined (reference §5.4)."""

    unlimited: bool
    limit: Decimal
    reset_period: str | None


def combine_grants(grants: Iterable[Grant]) -> Allowance | None:
    """Σ enabled limits, unlimited if any enabled grant is; None when nothing is enabled.

    Soft limits are billed like hard ones (the limit is the free allowance either way).
    """
    enabled = [g for g in grants if g.is_enabled]
    if not enabled:
        return None
    periods = [g.usage_reset_period for g in enabled if g.usage_reset_period]
    reset = max(set(periods), key=periods.count) if periods else None
    if any(g.usage_limit is None for g in enabled):
        return Allowance(unlimited=True, limit=ZERO, reset_period=reset)
    total = sum((g.usage_limit or ZERO for g in enabled), ZERO)
    return Allowance(unlimited=False, limit=total, reset_period=reset)


def billable_quantity(
    window_usages: Iterable[Decimal], allowance: Allowance | None
) -> tuple[Decimal, Decimal | None]:
    """``(billable quantity, quantity covered by the entitlement)`` of a usage line.

    ``window_usages`` is the usage of each reset window in the period (one value when the
    reset period is the billing period); each window gets the full allowance.
    """
    usages = list(window_usages)
    used = sum(usages, ZERO)
    if allowance is None:
        return used, None
    if allowance.unlimited:
        return ZERO, used
    billable = sum((max(ZERO, u - allowance.limit) for u in usages), ZERO)
    return billable, used - billable


def uncovered_buckets(buckets: Iterable[Decimal], covered: Decimal | None) -> list[Decimal]:
    """What is left of each bucket once ``covered`` (the entitlement's share of their sum)
    is taken from the earliest buckets first: ``([9, 15], 10)`` → ``[0, 14]``.

    Bucketed meters are priced bucket by bucket (reference §6.2); the allowance covers the
    first units used, so it empties the earliest buckets.
    """
    left = covered if covered is not None and covered > 0 else ZERO
    out = []
    for value in buckets:
        taken = min(value, left)
        out.append(value - taken)
        left -= taken
    return out
