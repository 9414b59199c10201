"""Pure price maths: quantity → amount. Decimal in, Decimal out, no I/O.

Amounts are unrounded; round once per invoice line with ``kernel.money.round_money``.

* FLAT_FEE: ``amount × quantity``.
* PACKAGE: ``amount × packages`` where ``packages = quantity / divide_by`` rounded up
  (default) or down.
* TIERED, tiers sorted by ``up_to`` (inclusive; ``None`` = no upper bound, last):
  VOLUME prices the whole quantity at the first tier whose ``up_to`` holds it (``unit_amount
  × quantity + flat_amount``); SLAB walks the tiers, charging each tier's ``unit_amount`` for
  the part of the quantity that falls in it plus its ``flat_amount`` for every tier touched.
* A zero quantity costs nothing (no flat tier fee on zero usage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from babel.numbers import get_currency_symbol

from meterline.kernel.money import decimal_text, in_money_context

ZERO = Decimal(0)

BILLING_MODELS = ("FLAT_FEE", "PACKAGE", "TIERED")
TIER_MODES = ("VOLUME", "SLAB")
ROUNDING = ("up", "down")


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal = ZERO


@dataclass(frozen=True)
class PriceSpec:
    """What the maths needs of a price."""

    billing_model: str
    amount: Decimal = ZERO
    tier_mode: str | None = None
    tiers: tuple[Tier, ...] = ()
    divide_by: int = 1
    round: str = "up"


@in_money_context
def price_amount(spec: PriceSpec, quantity: Decimal) -> Decimal:
    """The unrounded cost of ``quantity`` units at ``spec``."""
    if quantity <= 0:
        return ZERO
    if spec.billing_model == "FLAT_FEE":
        return spec.amount * quantity
    if spec.billing_model == "PACKAGE":
        return spec.amount * packages(quantity, spec.divide_by, spec.round)
    if spec.billing_model == "TIERED":
        tiers = sorted_tiers(spec.tiers)
        if not tiers:
            return ZERO
        if spec.tier_mode == "VOLUME":
            return _volume(tiers, quantity)
        if spec.tier_mode == "SLAB":
            return _slab(tiers, quantity)
        raise ValueError(f"unknown tier_mode {spec.tier_mode!r}")
    raise ValueError(f"unknown billing_model {spec.billing_model!r}")


@in_money_context
def bucketed_amount(spec: PriceSpec, bucket_quantities: Iterable[Decimal]) -> Decimal:
    """Each bucket (or group) priced on its own, then summed (bucketed MAX/SUM meters)."""
    return sum((price_amount(spec, quantity) for quantity in bucket_quantities), ZERO)


def packages(quantity: Decimal, divide_by: int, rounding: str = "up") -> Decimal:
    if divide_by < 1:
        raise ValueError("divide_by must be at least 1")
    mode = ROUND_FLOOR if rounding == "down" else ROUND_CEILING
    return (quantity / Decimal(divide_by)).to_integral_value(rounding=mode)


def sorted_tiers(tiers: Sequence[Tier]) -> list[Tier]:
    """Tiers by ``up_to``, the unbounded tier last."""
    return sorted(tiers, key=lambda t: (t.up_to is None, t.up_to or ZERO))


def _volume(tiers: list[Tier], quantity: Decimal) -> Decimal:
    chosen = tiers[-1]
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            chosen = tier
            break
    return chosen.unit_amount * quantity + chosen.flat_amount


def _slab(tiers: list[Tier], quantity: Decimal) -> Decimal:
    total = ZERO
    remaining = quantity
    lower = ZERO
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if tier.up_to is None or last:
            in_tier = remaining
        else:
            in_tier = min(remaining, tier.up_to - lower)
            lower = tier.up_to
        total += tier.unit_amount * in_tier + tier.flat_amount
        remaining -= in_tier
        if remaining <= 0:
            break
    return total


def display_amount(amount: Decimal, currency: str) -> str:
    """The currency symbol and the exact amount, as upstream shows it: ``$0.02``, ``$100``."""
    symbol = get_currency_symbol(currency.upper(), locale="en_US")
    text = decimal_text(amount)
    if text.startswith("-"):
        return f"-{symbol}{text[1:]}"
    return f"{symbol}{text}"
