"""Typed commands of the catalog service (meters, features), built by the API layer from
its wire models.

Types and lengths are settled at the wire; the service checks values (choices, the rules
between fields, references). ``None`` means "not given"; an update command changes only
the fields that are not ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MeterFilter:
    """Events match when their property ``key`` holds one of ``values``."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class CreateMeter:
    name: str
    event_name: str
    aggregation_type: str = "COUNT"
    field: str | None = None
    multiplier: Decimal | None = None
    bucket_size: str | None = None
    group_by: str | None = None
    filters: tuple[MeterFilter, ...] = ()
    reset_usage: str = "BILLING_PERIOD"


@dataclass(frozen=True)
class CreateFeature:
    name: str
    type: str
    lookup_key: str | None = None
    description: str | None = None
    meter_id: str | None = None
    # A metered feature names its meter (meter_id) or has one made with it (meter).
    meter: CreateMeter | None = None
    unit_singular: str | None = None
    unit_plural: str | None = None
    metadata: dict[str, str] | None = None
    usage_aggregation: str | None = None
    usage_reset_period: str | None = None
    usage_reset_anchor: str | None = None
    group_id: str | None = None


@dataclass(frozen=True)
class FeatureChanges:
    # "" takes the feature out of its group.
    group_id: str | None = None
    name: str | None = None
    description: str | None = None
    unit_singular: str | None = None
    unit_plural: str | None = None
    metadata: dict[str, str] | None = None
    # The feature's meter's filters, replaced as a whole.
    filters: tuple[MeterFilter, ...] | None = None


@dataclass(frozen=True)
class CloneFeature:
    name: str
    lookup_key: str
    description: str | None = None
    metadata: dict[str, str] | None = None
