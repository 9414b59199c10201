"""What coupons take off an invoice: pure arithmetic on ``Decimal``, no I/O.

Contract (golden cases in ``tests/discounts/test_compute.py``):

* Lines arrive rounded to the currency's minor units. Only charges are discounted: a line
  below zero (a cancellation credit) is never discounted and is no part of any base.
* Line coupons (those naming a price) come first, in the order given, each on what is left
  of each line of its price: a percentage of it, rounded like a line (half away from zero,
  ``kernel.money.round_money``), or its fixed amount, capped at what is left.
* Invoice coupons follow, in the order given, each on what is left of the whole invoice
  after the coupons before it (Stripe and Lago apply several discounts one after another).
  Its amount is spread over the lines in proportion to what is left of each, rounded per
  line, the rounding remainder going to the lines in order, so the lines' shares add up to
  the invoice coupon's amount exactly.
* No coupon takes more than what is left: an invoice is never discounted below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from meterline.kernel.money import in_money_context, minor_units, round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Line:
    key: str
    amount: Decimal
    price_id: str | None = None


@dataclass(frozen=True)
class Discount:
    key: str
    kind: str  # "fixed" | "percentage"
    value: Decimal  # the amount off, or the percent off (0-100)
    price_id: str | None = None  # None: the whole invoice


@dataclass(frozen=True)
class Applied:
    """One discount on one line (``line_key``) or on the whole invoice (``line_key=None``)."""

    discount_key: str
    line_key: str | None
    original: Decimal
    discounted: Decimal

    @property
    def final(self) -> Decimal:
        return self.original - self.discounted


@dataclass
class Outcome:
    line_discounts: dict[str, Decimal] = field(default_factory=dict)
    invoice_discounts: dict[str, Decimal] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum(self.line_discounts.values(), ZERO) + sum(self.invoice_discounts.values(), ZERO)


def _off(discount: Discount, base: Decimal, units: int) -> Decimal:
    if base <= 0:
        return ZERO
    if discount.kind == "percentage":
        return min(base, round_money(base * discount.value / HUNDRED, units))
    return min(base, round_money(discount.value, units))


def _spread(amount: Decimal, left: dict[str, Decimal], units: int) -> dict[str, Decimal]:
    """``amount`` over the lines in proportion to ``left`` (its sum at least ``amount``)."""
    base = sum(left.values(), ZERO)
    shares = {
        key: min(room, round_money(amount * room / base, units)) for key, room in left.items()
    }
    rest = amount - sum(shares.values(), ZERO)
    for key, room in left.items():
        if rest == 0:
            break
        # Rounding left ``rest`` (a few minor units, either sign) to place within each room.
        step = min(rest, room - shares[key]) if rest > 0 else max(rest, -shares[key])
        shares[key] += step
        rest -= step
    return shares


@in_money_context
def apply(lines: Sequence[Line], discounts: Sequence[Discount], currency: str) -> Outcome:
    """The discounts of ``discounts`` on ``lines`` (see the module docstring)."""
    units = minor_units(currency)
    left = {line.key: max(ZERO, line.amount) for line in lines}
    outcome = Outcome(
        line_discounts={line.key: ZERO for line in lines},
        invoice_discounts={line.key: ZERO for line in lines},
    )
    for discount in discounts:
        if discount.price_id is None:
            continue
        for line in lines:
            if line.price_id != discount.price_id:
                continue
            off = _off(discount, left[line.key], units)
            if off <= 0:
                continue
            outcome.applied.append(Applied(discount.key, line.key, left[line.key], off))
            outcome.line_discounts[line.key] += off
            left[line.key] -= off
    for discount in discounts:
        if discount.price_id is not None:
            continue
        base = sum(left.values(), ZERO)
        off = _off(discount, base, units)
        if off <= 0:
            continue
        outcome.applied.append(Applied(discount.key, None, base, off))
        for key, share in _spread(off, {k: v for k, v in left.items() if v > 0}, units).items():
            outcome.invoice_discounts[key] += share
            left[key] -= share
    return outcome
