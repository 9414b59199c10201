"""Exclusive tax on invoice lines: pure arithmetic on ``Decimal``, no I/O.

Each rate taxes each line's taxable amount (its amount less its discounts; a credit line
or a line discounted to zero is not taxed) and the tax is rounded per line and rate, in the
currency's minor units, half away from zero (``kernel.money.round_money``): the invoice's tax
is the sum of those rounded amounts, so every line's tax is what the line shows. Several
rates on one invoice each tax the same base (no tax on tax), as Stripe's exclusive rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from meterline.kernel.money import in_money_context, minor_units, round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class RateTax:
    """What one rate added: Σ taxable bases and Σ per-line rounded taxes."""

    key: str
    taxable: Decimal
    tax: Decimal


@in_money_context
def exclusive_tax(
    taxable_lines: Sequence[Decimal], rates: Sequence[tuple[str, Decimal]], currency: str
) -> list[RateTax]:
    """Per rate ``(key, percent)``: the tax on ``taxable_lines`` (see the module docstring)."""
    units = minor_units(currency)
    bases = [max(ZERO, amount) for amount in taxable_lines]
    out = []
    for key, percent in rates:
        tax = sum((round_money(b * percent / HUNDRED, units) for b in bases), ZERO)
        out.append(RateTax(key, sum(bases, ZERO), tax))
    return out
