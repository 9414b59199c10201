"""Tax on invoice lines, exclusive and inclusive: pure arithmetic on ``Decimal``, no I/O.

Each line's base is its amount less its discounts (a credit line or a line discounted to
zero is not taxed); every tax is rounded per line and rate, in the currency's minor units,
half away from zero (``kernel.money.round_money``): an invoice's tax is the sum of those
rounded amounts, so every line's tax is what the line shows.

* An **inclusive** rate's tax is carved out of the base, which already holds it: with the
  line's inclusive rates ``r₁ … rₙ`` (as fractions, ``R = Σ rᵢ``) each takes
  ``round(base × rᵢ / (1 + R))``; the line's net is the base less those taxes. 120.00 at an
  inclusive 20 % is 100.00 net and 20.00 tax (as Stripe's and Lago's inclusive rates).
* An **exclusive** rate adds ``round(net × r)`` to the line: several exclusive rates each
  tax the same net (no tax on tax), and never the inclusive tax.

``taxable`` of each rate is the sum of the nets it taxed (the amounts before tax).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from meterline.kernel.money import in_money_context, minor_units, round_money

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Rate:
    """One rate to apply: a caller's ``key``, its ``percent`` (0–100) and its behaviour."""

    key: str
    percent: Decimal
    inclusive: bool = False


@dataclass(frozen=True)
class RateTax:
    """What one rate took: Σ net bases and Σ per-line rounded taxes."""

    key: str
    taxable: Decimal
    tax: Decimal
    inclusive: bool = False


@dataclass(frozen=True)
class LineTax:
    """One line's net (its base without inclusive tax) and its tax, all rates together."""

    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Taxed:
    rates: list[RateTax]
    lines: list[LineTax]

    @property
    def total(self) -> Decimal:
        return sum((r.tax for r in self.rates), ZERO)

    @property
    def inclusive(self) -> Decimal:
        return sum((r.tax for r in self.rates if r.inclusive), ZERO)


@in_money_context
def line_taxes(taxable_lines: Sequence[Decimal], rates: Sequence[Rate], currency: str) -> Taxed:
    """The tax of each rate on ``taxable_lines`` (see the module docstring)."""
    units = minor_units(currency)
    inclusive = [r for r in rates if r.inclusive]
    exclusive = [r for r in rates if not r.inclusive]
    carve = ONE + sum((r.percent for r in inclusive), ZERO) / HUNDRED
    taxes: dict[str, Decimal] = {r.key: ZERO for r in rates}
    nets: list[Decimal] = []
    per_line: list[LineTax] = []
    for amount in taxable_lines:
        base = max(ZERO, amount)
        carved = ZERO
        for rate in inclusive:
            tax = round_money(base * rate.percent / HUNDRED / carve, units)
            taxes[rate.key] += tax
            carved += tax
        net = base - carved
        added = ZERO
        for rate in exclusive:
            tax = round_money(net * rate.percent / HUNDRED, units)
            taxes[rate.key] += tax
            added += tax
        nets.append(net)
        per_line.append(LineTax(net, carved + added))
    taxable = sum(nets, ZERO)
    return Taxed(
        [RateTax(r.key, taxable, taxes[r.key], r.inclusive) for r in rates],
        per_line,
    )


def exclusive_tax(
    taxable_lines: Sequence[Decimal], rates: Sequence[tuple[str, Decimal]], currency: str
) -> list[RateTax]:
    """Per exclusive rate ``(key, percent)``: the tax on ``taxable_lines``."""
    return line_taxes(taxable_lines, [Rate(k, p) for k, p in rates], currency).rates
