"""FLAT_FEE: ``amount × quantity`` (a unit price).

Wire: ``amount`` (required, a non-negative bounded decimal). Stored in ``amount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.charge_models.base import QuantityModel, StoredPricing
from meterline.pricing.commands import PricingInput
from meterline.pricing.fields import decimal_of


def required_amount(pricing: PricingInput, model: str) -> Decimal:
    if pricing.amount is None or pricing.amount == "":
        raise InvalidRequest(f"amount is required for {model} prices", field="amount")
    return decimal_of(pricing.amount, "amount")


@dataclass(frozen=True)
class FlatFee(QuantityModel):
    billing_model: ClassVar[str] = "FLAT_FEE"
    tier_mode: ClassVar[str | None] = None

    unit_amount: Decimal

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        return StoredPricing(cls.billing_model, amount=required_amount(pricing, cls.billing_model))

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> FlatFee:
        return cls(stored.amount)

    def amount(self, quantity: Decimal) -> Decimal:
        return self.unit_amount * quantity
