"""Credit grants and their applications.

A grant belongs to a plan (every subscription of the plan receives it) or to one
subscription. Each time a grant is applied to a subscription's customer a
``credit_grant_applications`` row records it; its unique ``(credit_grant_id,
subscription_id, period_start)`` makes each grant apply exactly once per period, whatever
the number of job runs or processes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column

SCOPES = ("PLAN", "SUBSCRIPTION", "ADDON")
CADENCES = ("ONETIME", "RECURRING")
PERIODS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUAL")
EXPIRY_TYPES = ("NEVER", "DURATION", "BILLING_CYCLE")
EXPIRY_UNITS = ("DAY", "WEEK", "MONTH", "YEAR")


class CreditGrant(TimestampMixin, Base):
    __tablename__ = "credit_grants"
    __table_args__ = (
        Index("ix_credit_grants_env_plan", "environment_id", "plan_id"),
        Index("ix_credit_grants_env_subscription", "environment_id", "subscription_id"),
        Index("ix_credit_grants_env_addon", "environment_id", "addon_id"),
    )

    id: Mapped[str] = id_column("cg")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(20))
    plan_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # An ADDON grant's add-on: it applies to the subscriptions while they have the add-on.
    addon_id: Mapped[str | None] = mapped_column(String(40), default=None)
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    credits: Mapped[Decimal] = mapped_column(Money())
    cadence: Mapped[str] = mapped_column(String(20))
    period: Mapped[str | None] = mapped_column(String(20), default=None)
    period_count: Mapped[int | None] = mapped_column(default=None)
    expiration_type: Mapped[str] = mapped_column(String(20), default="NEVER")
    expiration_duration: Mapped[int | None] = mapped_column(default=None)
    expiration_duration_unit: Mapped[str | None] = mapped_column(String(10), default=None)
    priority: Mapped[int | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class CreditGrantApplication(TimestampMixin, Base):
    __tablename__ = "credit_grant_applications"
    __table_args__ = (
        Index(
            "uq_credit_grant_applications_period",
            "credit_grant_id",
            "subscription_id",
            "period_start",
            unique=True,
        ),
    )

    id: Mapped[str] = id_column("cga")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    credit_grant_id: Mapped[str] = mapped_column(ForeignKey("credit_grants.id"))
    subscription_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    credits: Mapped[Decimal] = mapped_column(Money())
    wallet_id: Mapped[str] = mapped_column(String(40))
    wallet_transaction_id: Mapped[str] = mapped_column(String(40))
