"""Grants: a Feature granted to a Plan, a Subscription or a License.

A Flexprice *entitlement* and a Kaiten *license entitlement* are the same row, told apart
by ``entity_type`` (PLAN | SUBSCRIPTION | ADDON | LICENSE).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, utcnow

ENTITY_TYPES = ("PLAN", "SUBSCRIPTION", "ADDON", "LICENSE")


class Entitlement(TimestampMixin, Base):
    __tablename__ = "entitlements"
    __table_args__ = (
        Index(
            "uq_entitlements_entity_feature_published",
            "environment_id",
            "entity_type",
            "entity_id",
            "feature_id",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
        Index("ix_entitlements_env_feature", "environment_id", "feature_id"),
    )

    id: Mapped[str] = id_column("ent")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(40))
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id"))
    feature_type: Mapped[str] = mapped_column(String(20))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    # None = unlimited. Kaiten's -1 is stored as None too.
    usage_limit: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    usage_reset_period: Mapped[str | None] = mapped_column(String(20), default=None)
    is_soft_limit: Mapped[bool] = mapped_column(default=False)
    # Kaiten limitCapExceededOveragePercent: None = unlimited overage, 0 = hard, > 0 = soft.
    overage_percent: Mapped[Decimal | None] = mapped_column(Money(), default=Decimal(0))
    static_value: Mapped[str | None] = mapped_column(String(2000), default=None)
    config_value: Mapped[Any] = mapped_column(JSON, default=None)
    display_order: Mapped[int] = mapped_column(default=0)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")


class Consumption(Base):
    """One accepted check-and-consume that carried an ``event_id``: its idempotency key.

    The key is ``(environment, customer, feature, event_id)``, so another customer's or
    another feature's ``event_id`` never answers ``duplicate``. The usage itself is stored
    as events whose ids derive from this row's id (``cons_…``, ``cons_…#1``, …), never from
    the client's ``event_id``, so they cannot collide with ingested events.
    """

    __tablename__ = "entitlement_consumptions"
    __table_args__ = (
        Index(
            "uq_entitlement_consumptions_key",
            "environment_id",
            "customer_id",
            "feature_id",
            "event_id",
            unique=True,
        ),
    )

    id: Mapped[str] = id_column("cons")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    feature_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
