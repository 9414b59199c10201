"""TIERED / SLAB: walk the tiers, charging each tier's ``unit_amount`` for the part of the
quantity that falls in it, plus its ``flat_amount`` for every tier touched (graduated).

Wire and storage: see ``tiers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from meterline.pricing.charge_models.base import ZERO, QuantityModel, StoredPricing
from meterline.pricing.charge_models.tiers import Tier, parse_tiers, sorted_tiers, stored_tiers
from meterline.pricing.commands import PricingInput


@dataclass(frozen=True)
class TieredSlab(QuantityModel):
    billing_model: ClassVar[str] = "TIERED"
    tier_mode: ClassVar[str | None] = "SLAB"

    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", sorted_tiers(self.tiers))

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        return parse_tiers(pricing, cls.billing_model, "SLAB")

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> TieredSlab:
        return cls(stored_tiers(stored))

    def amount(self, quantity: Decimal) -> Decimal:
        total = ZERO
        remaining = quantity
        lower = ZERO
        for index, tier in enumerate(self.tiers):
            last = index == len(self.tiers) - 1
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
