"""PACKAGE: ``amount × packages``, ``packages = quantity / divide_by`` rounded up (default)
or down.

Wire: ``amount`` (required) and ``transform_quantity: {"divide_by": int ≥ 1, "round":
"up" | "down"}``. Stored in ``amount`` and ``transform_quantity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import ClassVar

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.charge_models.base import QuantityModel, StoredPricing
from meterline.pricing.charge_models.flat_fee import required_amount
from meterline.pricing.commands import PricingInput, TransformInput
from meterline.pricing.fields import choice

ROUNDING = ("up", "down")


def packages(quantity: Decimal, divide_by: int, rounding: str = "up") -> Decimal:
    if divide_by < 1:
        raise ValueError("divide_by must be at least 1")
    mode = ROUND_FLOOR if rounding == "down" else ROUND_CEILING
    return (quantity / Decimal(divide_by)).to_integral_value(rounding=mode)


@dataclass(frozen=True)
class Package(QuantityModel):
    billing_model: ClassVar[str] = "PACKAGE"
    tier_mode: ClassVar[str | None] = None

    package_amount: Decimal
    divide_by: int
    round: str = "up"

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        amount = required_amount(pricing, cls.billing_model)
        raw = pricing.transform_quantity or TransformInput()
        if raw.divide_by is None or raw.divide_by < 1:
            raise InvalidRequest(
                "PACKAGE prices need transform_quantity.divide_by of at least 1",
                field="transform_quantity.divide_by",
            )
        rounding = choice(raw.round or "up", ROUNDING, "transform_quantity.round")
        return StoredPricing(
            cls.billing_model,
            amount=amount,
            transform_quantity={"divide_by": raw.divide_by, "round": rounding},
        )

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> Package:
        transform = stored.transform_quantity or {}
        return cls(
            stored.amount,
            divide_by=int(transform.get("divide_by") or 1),
            round=str(transform.get("round") or "up"),
        )

    def amount(self, quantity: Decimal) -> Decimal:
        return self.package_amount * packages(quantity, self.divide_by, self.round)
