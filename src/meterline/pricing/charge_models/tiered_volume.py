"""TIERED / VOLUME: the whole quantity at the first tier whose ``up_to`` holds it:
``unit_amount × quantity + flat_amount`` (beyond the last bounded tier: the last tier).

Wire and storage: see ``tiers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from meterline.pricing.charge_models.base import ZERO
from meterline.pricing.charge_models.tiers import Tiered


@dataclass(frozen=True)
class TieredVolume(Tiered):
    tier_mode: ClassVar[str | None] = "VOLUME"

    def amount(self, quantity: Decimal) -> Decimal:
        if not self.tiers:
            return ZERO
        chosen = self.tiers[-1]
        for tier in self.tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                chosen = tier
                break
        return chosen.unit_amount * quantity + chosen.flat_amount
