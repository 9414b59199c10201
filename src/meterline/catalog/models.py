"""Features and meters: what is metered and how it is aggregated.

A Flexprice *feature* and a Kaiten *entitlement* (catalog entry) are the same Feature row.
Kaiten-only attributes (aggregation method, reset period and anchor of reported usage) live
on the feature too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, id_column, unique_where
from meterline.metering.aggregations import AGGREGATION_TYPES as AGGREGATION_TYPES

FEATURE_TYPES = ("metered", "boolean", "static", "config")
WINDOW_SIZES = (
    "MINUTE",
    "15MIN",
    "30MIN",
    "HOUR",
    "3HOUR",
    "6HOUR",
    "12HOUR",
    "DAY",
    "WEEK",
    "MONTH",
)
RESET_USAGE = ("BILLING_PERIOD", "NEVER")


class Meter(TimestampMixin, Base):
    __tablename__ = "meters"
    __table_args__ = (Index("ix_meters_env_event_name", "environment_id", "event_name"),)

    id: Mapped[str] = id_column("meter")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(255))
    event_name: Mapped[str] = mapped_column(String(255))
    aggregation_type: Mapped[str] = mapped_column(String(30))
    aggregation_field: Mapped[str | None] = mapped_column(String(255), default=None)
    aggregation_multiplier: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    bucket_size: Mapped[str | None] = mapped_column(String(10), default=None)
    group_by: Mapped[str | None] = mapped_column(String(255), default=None)
    # [{"key": str, "values": [str, ...]}]
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reset_usage: Mapped[str] = mapped_column(String(20), default="BILLING_PERIOD")
    status: Mapped[str] = mapped_column(String(20), default="published")


class Feature(TimestampMixin, Base):
    __tablename__ = "features"
    __table_args__ = (
        unique_where(
            "uq_features_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("feat")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    type: Mapped[str] = mapped_column(String(20))
    meter_id: Mapped[str | None] = mapped_column(ForeignKey("meters.id"), default=None)
    unit_singular: Mapped[str | None] = mapped_column(String(100), default=None)
    unit_plural: Mapped[str | None] = mapped_column(String(100), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # Licensing (Kaiten) attributes of reported usage; immutable once set.
    usage_aggregation: Mapped[str | None] = mapped_column(String(20), default=None)
    usage_reset_period: Mapped[str | None] = mapped_column(String(20), default=None)
    usage_reset_anchor: Mapped[str | None] = mapped_column(String(20), default=None)
    # The feature group it belongs to (groups.models.Group, entity_type "feature").
    group_id: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")
