"""The charge models, one module each, and the registry that picks one from a price.

A price names its model with ``billing_model`` (and, for TIERED, ``tier_mode``). Adding a
model is one module with a class meeting ``base.ChargeModel`` plus one line in ``MODELS``;
validation (``parse``), storage (``from_stored``) and pricing (``price_amount``,
``bucketed_amount``, ``events_amount``) all go through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from meterline.kernel.errors import InvalidRequest
from meterline.kernel.money import in_money_context
from meterline.pricing.charge_models.base import (
    ZERO,
    ChargeModel,
    PricedRow,
    StoredPricing,
    stored_of,
)
from meterline.pricing.charge_models.flat_fee import FlatFee
from meterline.pricing.charge_models.package import Package
from meterline.pricing.charge_models.percentage import Percentage
from meterline.pricing.charge_models.tiered_slab import TieredSlab
from meterline.pricing.charge_models.tiered_volume import TieredVolume
from meterline.pricing.commands import PricingInput
from meterline.pricing.fields import choice

__all__ = [
    "BILLING_MODELS",
    "MODELS",
    "TIER_MODES",
    "ChargeModel",
    "StoredPricing",
    "bucketed_amount",
    "events_amount",
    "model_of",
    "model_of_price",
    "parse",
    "price_amount",
]

_CLASSES: tuple[type[ChargeModel], ...] = (FlatFee, Package, TieredVolume, TieredSlab, Percentage)
MODELS: dict[tuple[str, str | None], type[ChargeModel]] = {
    (cls.billing_model, cls.tier_mode): cls for cls in _CLASSES
}
BILLING_MODELS = tuple(dict.fromkeys(cls.billing_model for cls in _CLASSES))
TIER_MODES = tuple(cls.tier_mode for cls in _CLASSES if cls.tier_mode is not None)
# The models that are chosen by a tier mode (TIERED): the mode is required for them.
_TIERED = frozenset(cls.billing_model for cls in _CLASSES if cls.tier_mode is not None)


def parse(pricing: PricingInput) -> StoredPricing:
    """Validate a price's pricing fields (``InvalidRequest`` naming the field) → its columns."""
    model = choice(pricing.billing_model, BILLING_MODELS, "billing_model")
    tier_mode = None
    if model in _TIERED:
        if not pricing.tier_mode:
            raise InvalidRequest("TIERED prices need tier_mode VOLUME or SLAB", field="tier_mode")
        tier_mode = choice(pricing.tier_mode, TIER_MODES, "tier_mode")
    if pricing.percentage is not None and model != Percentage.billing_model:
        raise InvalidRequest("percentage is only for PERCENTAGE prices", field="percentage")
    return MODELS[(model, tier_mode)].parse(pricing)


def model_of(stored: StoredPricing) -> ChargeModel:
    """The model of a stored price (``ValueError`` for a model this build does not know)."""
    tier_mode = stored.tier_mode if stored.billing_model in _TIERED else None
    cls = MODELS.get((stored.billing_model, tier_mode))
    if cls is None:
        if stored.billing_model in _TIERED:
            raise ValueError(f"unknown tier_mode {stored.tier_mode!r}")
        raise ValueError(f"unknown billing_model {stored.billing_model!r}")
    return cls.from_stored(stored)


def model_of_price(price: PricedRow) -> ChargeModel:
    """The model a stored price names."""
    return model_of(stored_of(price))


@in_money_context
def price_amount(model: ChargeModel, quantity: Decimal) -> Decimal:
    """The unrounded cost of ``quantity`` units; a zero quantity costs nothing (no flat tier
    fee, no fixed fee on zero usage)."""
    if quantity <= 0:
        return ZERO
    return model.amount(quantity)


@in_money_context
def bucketed_amount(model: ChargeModel, bucket_quantities: Iterable[Decimal]) -> Decimal:
    """Each bucket (or group) priced on its own, then summed (bucketed MAX/SUM meters)."""
    return sum((price_amount(model, quantity) for quantity in bucket_quantities), ZERO)


@in_money_context
def events_amount(model: ChargeModel, values: Sequence[Decimal]) -> Decimal:
    """The unrounded cost of the period's events, their values in time order (``per_event``
    models); the same as ``price_amount`` of their sum for the others."""
    return model.events_amount(values)
