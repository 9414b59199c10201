"""The tiers of the TIERED models (``tiered_volume``, ``tiered_slab``): parsed, stored, sorted.

Wire: ``tier_mode`` (VOLUME or SLAB; required: upstream prices TIERED without one at 0) and
``tiers``: 1 to ``MAX_TIERS`` of ``{"up_to": int ≥ 1 | null, "unit_amount", "flat_amount"?}``
in increasing ``up_to`` order, only the last unbounded (upstream sorts them silently).
``up_to`` is inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Self

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.charge_models.base import ZERO, QuantityModel, StoredPricing, text
from meterline.pricing.commands import PricingInput
from meterline.pricing.fields import decimal_of, optional_decimal

MAX_TIERS = 100


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal = ZERO


def parse_tiers(pricing: PricingInput, billing_model: str, tier_mode: str | None) -> StoredPricing:
    raw = pricing.tiers
    if not raw:
        raise InvalidRequest("TIERED prices need at least one tier", field="tiers")
    if len(raw) > MAX_TIERS:
        raise InvalidRequest(f"at most {MAX_TIERS} tiers", field="tiers")
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for index, tier in enumerate(raw):
        where = f"tiers[{index}]"
        up_to = tier.up_to
        if up_to is None and index != len(raw) - 1:
            raise InvalidRequest("only the last tier may have no up_to", field=f"{where}.up_to")
        if up_to is not None:
            if up_to < 1:
                raise InvalidRequest("up_to must be a positive integer", field=f"{where}.up_to")
            if previous is not None and up_to <= previous:
                raise InvalidRequest(
                    "tiers must be in increasing up_to order", field=f"{where}.up_to"
                )
            previous = up_to
        unit = decimal_of(tier.unit_amount, f"{where}.unit_amount")
        flat = optional_decimal(tier.flat_amount, f"{where}.flat_amount")
        entry: dict[str, Any] = {"up_to": up_to, "unit_amount": text(unit)}
        if flat is not None:
            entry["flat_amount"] = text(flat)
        out.append(entry)
    return StoredPricing(billing_model, tier_mode=tier_mode, tiers=out)


def stored_tiers(stored: StoredPricing) -> tuple[Tier, ...]:
    return sorted_tiers(
        [
            Tier(
                up_to=None if t.get("up_to") is None else Decimal(t["up_to"]),
                unit_amount=Decimal(t["unit_amount"]),
                flat_amount=Decimal(t.get("flat_amount") or 0),
            )
            for t in stored.tiers or []
        ]
    )


def sorted_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """Tiers by ``up_to``, the unbounded tier last."""
    return tuple(sorted(tiers, key=lambda t: (t.up_to is None, t.up_to or ZERO)))


@dataclass(frozen=True)
class Tiered(QuantityModel):
    """What the TIERED models share: sorted tiers, parsed and stored under their tier mode;
    each model says only how a quantity is priced over them (``amount``)."""

    billing_model: ClassVar[str] = "TIERED"
    tier_mode: ClassVar[str | None]

    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", sorted_tiers(self.tiers))

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        return parse_tiers(pricing, cls.billing_model, cls.tier_mode)

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> Self:
        return cls(stored_tiers(stored))
