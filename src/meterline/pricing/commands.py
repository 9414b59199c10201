"""Typed commands of the pricing services, built by the API layer from its wire models.

Types are settled at the wire (a pydantic model per request); the services check values
(choices, bounds, references). Amounts stay as the client wrote them (``Decimal`` or text)
so that the service's bound check names the field exactly as before. ``None`` means "not
given"; an update command changes only the fields that are not ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from meterline.pricing.fields import DecimalInput


@dataclass(frozen=True)
class TierInput:
    up_to: int | None = None
    unit_amount: DecimalInput = None
    flat_amount: DecimalInput = None


@dataclass(frozen=True)
class TransformInput:
    divide_by: int | None = None
    round: str | None = None


@dataclass(frozen=True)
class PercentageInput:
    """The PERCENTAGE charge's settings (a Meterline extension of the price wire)."""

    rate: DecimalInput = None
    fixed_amount: DecimalInput = None
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: DecimalInput = None
    per_transaction_min_amount: DecimalInput = None
    per_transaction_max_amount: DecimalInput = None


@dataclass(frozen=True)
class PriceUnitInput:
    """A price written in a custom price unit: the unit's code and the amounts in it."""

    price_unit: str
    amount: DecimalInput = None
    price_unit_tiers: tuple[TierInput, ...] | None = None


@dataclass(frozen=True)
class PricingInput:
    """What decides a price's amounts: the charge model and its settings."""

    billing_model: str | None = None
    amount: DecimalInput = None
    tier_mode: str | None = None
    tiers: tuple[TierInput, ...] | None = None
    transform_quantity: TransformInput | None = None
    percentage: PercentageInput | None = None


@dataclass(frozen=True)
class CreatePrice:
    pricing: PricingInput
    entity_type: str | None = None
    entity_id: str | None = None
    plan_id: str | None = None
    type: str | None = None
    price_unit_type: str | None = None
    currency: str | None = None
    billing_period: str | None = None
    billing_period_count: int | None = None
    invoice_cadence: str | None = None
    meter_id: str | None = None
    trial_period_days: int | None = None
    min_quantity: DecimalInput = None
    lookup_key: str | None = None
    description: str | None = None
    display_name: str | None = None
    metadata: dict[str, str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    price_unit_config: PriceUnitInput | None = None
    group_id: str | None = None


@dataclass(frozen=True)
class UpdatePrice:
    """A pricing change (any ``pricing`` field given) makes a new version from
    ``effective_from`` (default now); the descriptive fields are edited in place."""

    pricing: PricingInput = field(default_factory=PricingInput)
    effective_from: datetime | None = None
    lookup_key: str | None = None
    description: str | None = None
    display_name: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class PlanFields:
    """A plan's fields; on update only the ones given (not ``None``) change."""

    name: str | None = None
    lookup_key: str | None = None
    description: str | None = None
    display_order: int | None = None
    metadata: dict[str, str] | None = None
