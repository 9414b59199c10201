"""Plans and their prices.

A price belongs to an entity (a PLAN here; SUBSCRIPTION/ADDON prices use the same table).
Pricing changes never edit a price in place: a new version is created and the old one is
end-dated (``parent_price_id`` links the versions), so invoices of past periods keep the
price they were computed with.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where


class Plan(TimestampMixin, Base):
    __tablename__ = "plans"
    __table_args__ = (
        unique_where(
            "uq_plans_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published' AND lookup_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("plan")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    display_order: Mapped[int] = mapped_column(default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")


class Price(TimestampMixin, Base):
    __tablename__ = "prices"
    __table_args__ = (
        Index("ix_prices_env_entity", "environment_id", "entity_type", "entity_id"),
        unique_where(
            "uq_prices_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published' AND lookup_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("price")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(10))
    price_unit_type: Mapped[str] = mapped_column(String(10), default="FIAT")
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    billing_model: Mapped[str] = mapped_column(String(20))
    billing_period: Mapped[str] = mapped_column(String(20))
    billing_period_count: Mapped[int] = mapped_column(default=1)
    invoice_cadence: Mapped[str] = mapped_column(String(10))
    tier_mode: Mapped[str | None] = mapped_column(String(10), default=None)
    # [{"up_to": int | None, "unit_amount": "decimal", "flat_amount": "decimal" | None}]
    tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    # {"divide_by": int, "round": "up" | "down"}
    transform_quantity: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # PERCENTAGE settings (charge_models.percentage): {"rate": "decimal", ...}
    percentage: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    meter_id: Mapped[str | None] = mapped_column(ForeignKey("meters.id"), default=None)
    lookup_key: Mapped[str | None] = mapped_column(String(255), default=None)
    trial_period_days: Mapped[int] = mapped_column(default=0)
    min_quantity: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    parent_price_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # A price in a custom price unit (price_unit_type CUSTOM): its unit, the unit's rate
    # when the price was made, and its amounts in the unit; amount and tiers are those
    # amounts converted to the currency (exactly: see pricing.prices).
    price_unit_id: Mapped[str | None] = mapped_column(String(40), default=None)
    price_unit: Mapped[str | None] = mapped_column(String(20), default=None)
    conversion_rate: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    price_unit_amount: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    price_unit_tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    group_id: Mapped[str | None] = mapped_column(String(40), default=None)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")
