"""Subscriptions (a customer on a plan, in periods) and their line items (one per price)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column


class Subscription(TimestampMixin, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_env_customer", "environment_id", "customer_id"),
        Index("ix_subscriptions_env_plan", "environment_id", "plan_id"),
        # The billing clock: periods ended (due) and ending soon (subscription.renewal.due).
        Index("ix_subscriptions_status_period_end", "subscription_status", "current_period_end"),
    )

    id: Mapped[str] = id_column("subs")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    lookup_key: Mapped[str | None] = mapped_column(String(255), default=None)
    subscription_status: Mapped[str] = mapped_column(String(20), default="active")
    currency: Mapped[str] = mapped_column(String(3))
    billing_cycle: Mapped[str] = mapped_column(String(20), default="anniversary")
    billing_period: Mapped[str] = mapped_column(String(20))
    billing_period_count: Mapped[int] = mapped_column(default=1)
    billing_anchor: Mapped[datetime] = mapped_column(UTCDateTime())
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    # The period end the billing clock sent ``subscription.renewal.due`` for: once a period.
    renewal_notified_period_end: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancel_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    trial_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="published")


class SubscriptionLineItem(TimestampMixin, Base):
    __tablename__ = "subscription_line_items"
    __table_args__ = (Index("ix_subscription_line_items_subscription", "subscription_id"),)

    id: Mapped[str] = id_column("subs_line")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(20), default="plan")
    entity_id: Mapped[str] = mapped_column(String(40))
    plan_display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    price_id: Mapped[str] = mapped_column(ForeignKey("prices.id"))
    price_type: Mapped[str] = mapped_column(String(10))
    meter_id: Mapped[str | None] = mapped_column(String(40), default=None)
    meter_display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    quantity: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3))
    billing_period: Mapped[str] = mapped_column(String(20))
    billing_period_count: Mapped[int] = mapped_column(default=1)
    invoice_cadence: Mapped[str] = mapped_column(String(10))
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    # The add-on association a line item bills for (``entity_type`` addon), else None.
    addon_association_id: Mapped[str | None] = mapped_column(String(40), default=None)


class SubscriptionPause(TimestampMixin, Base):
    """One pause of a subscription: from ``pause_start`` until it is resumed."""

    __tablename__ = "subscription_pauses"
    __table_args__ = (Index("ix_subscription_pauses_subscription", "subscription_id"),)

    id: Mapped[str] = id_column("subs_pause")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    pause_status: Mapped[str] = mapped_column(String(20), default="active")
    pause_mode: Mapped[str] = mapped_column(String(20), default="immediate")
    resume_mode: Mapped[str | None] = mapped_column(String(20), default=None)
    pause_start: Mapped[datetime] = mapped_column(UTCDateTime())
    pause_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    original_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    original_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")


class SubscriptionSchedule(TimestampMixin, Base):
    """A change of a subscription that takes effect later: a plan change at the end of the
    current period, applied by the billing clock in the transaction that closes the period
    (``subscriptions/schedule_runs.py``). ``schedule_status``: pending, executed, cancelled."""

    __tablename__ = "subscription_schedules"
    __table_args__ = (
        Index("ix_subscription_schedules_subscription", "subscription_id", "schedule_status"),
        Index("ix_subscription_schedules_env_created", "environment_id", "created_at"),
    )

    id: Mapped[str] = id_column("sched")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    schedule_type: Mapped[str] = mapped_column(String(20), default="plan_change")
    schedule_status: Mapped[str] = mapped_column(String(20), default="pending")
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    execution_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
