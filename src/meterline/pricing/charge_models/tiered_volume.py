"""TIERED / VOLUME: the whole quantity at the first tier whose ``up_to`` holds it:
``unit_amount × quantity + flat_amount`` (beyond the last bounded tier: the last tier).

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
class TieredVolume(QuantityModel):
    billing_model: ClassVar[str] = "TIERED"
    tier_mode: ClassVar[str | None] = "VOLUME"

    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", sorted_tiers(self.tiers))

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        return parse_tiers(pricing, cls.billing_model, "VOLUME")

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> TieredVolume:
        return cls(stored_tiers(stored))

    def amount(self, quantity: Decimal) -> Decimal:
        if not self.tiers:
            return ZERO
        chosen = self.tiers[-1]
        for tier in self.tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                chosen = tier
                break
        return chosen.unit_amount * quantity + chosen.flat_amount
