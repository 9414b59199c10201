"""What every charge model shares: its stored columns, its tiers and the protocol it meets.

A charge model turns a period's usage into an unrounded amount (Decimal in, Decimal out, no
I/O); the invoice line rounds it once with ``kernel.money.round_money``. A model prices
either the period's quantity (``amount``) or, when ``per_event`` is true, the sequence of
the period's event values in time order (``events_amount``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol, Self

from meterline.kernel.money import decimal_text
from meterline.pricing.commands import PricingInput

ZERO = Decimal(0)


@dataclass(frozen=True)
class StoredPricing:
    """The pricing columns of a price row: what a model is built from and stored as."""

    billing_model: str
    amount: Decimal = ZERO
    tier_mode: str | None = None
    # [{"up_to": int | None, "unit_amount": "decimal", "flat_amount": "decimal"?}]
    tiers: list[dict[str, Any]] | None = None
    # {"divide_by": int, "round": "up" | "down"}
    transform_quantity: dict[str, Any] | None = None
    # {"rate": "decimal", ...}: see ``percentage``
    percentage: dict[str, Any] | None = None


class PricedRow(Protocol):
    """What a charge model reads of a stored price (``pricing.models.Price``)."""

    billing_model: str
    amount: Decimal
    tier_mode: str | None
    tiers: list[dict[str, Any]] | None
    transform_quantity: dict[str, Any] | None
    percentage: dict[str, Any] | None


def stored_of(price: PricedRow) -> StoredPricing:
    """The pricing columns of a stored price."""
    return StoredPricing(
        billing_model=price.billing_model,
        amount=price.amount,
        tier_mode=price.tier_mode,
        tiers=price.tiers,
        transform_quantity=price.transform_quantity,
        percentage=price.percentage,
    )


class ChargeModel(Protocol):
    """One charge model: parsed from the wire, stored in the price's columns, priced."""

    billing_model: ClassVar[str]
    tier_mode: ClassVar[str | None]

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        """Validate the wire settings (``InvalidRequest`` naming the field) → the columns."""
        ...

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> Self:
        """The model of stored columns (already validated)."""
        ...

    @property
    def per_event(self) -> bool:
        """Whether pricing needs each event's value, not only the period's quantity."""
        ...

    def amount(self, quantity: Decimal) -> Decimal:
        """The unrounded cost of a positive ``quantity``."""
        ...

    def events_amount(self, values: Sequence[Decimal]) -> Decimal:
        """The unrounded cost of the period's events, their values in time order."""
        ...


class QuantityModel:
    """Mixin of the models that price the quantity alone: the events' sum is the quantity."""

    @property
    def per_event(self) -> bool:
        return False

    def amount(self, quantity: Decimal) -> Decimal:
        raise NotImplementedError

    def events_amount(self, values: Sequence[Decimal]) -> Decimal:
        quantity = sum(values, ZERO)
        return self.amount(quantity) if quantity > 0 else ZERO


def text(value: Decimal) -> str:
    return decimal_text(value)
