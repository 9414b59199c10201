"""TIERED / SLAB: walk the tiers, charging each tier's ``unit_amount`` for the part of the
quantity that falls in it, plus its ``flat_amount`` for every tier touched (graduated).

Wire and storage: see ``tiers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from meterline.pricing.charge_models.base import ZERO
from meterline.pricing.charge_models.tiers import Tiered


@dataclass(frozen=True)
class TieredSlab(Tiered):
    tier_mode: ClassVar[str | None] = "SLAB"

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
