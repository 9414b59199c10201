"""Alert settings: one per entity, with up to three thresholds; the state each setting is in
(per subject and period) and the log of its changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, utcnow

# What a setting can watch (``evaluate.py``): a wallet's credit balance, a subscription's
# (or one of its line items') metered spend this period, and a customer's usage of an
# entitlement's feature in its usage window. The SDK's ``feature`` and ``group`` are refused.
ENTITY_TYPES = ("wallet", "subscription", "subscription_line_item", "entitlement_grant")
PARENT_ENTITY_TYPES = (
    "wallet",
    "feature",
    "subscription",
    "subscription_line_item",
    "group",
    "entitlement_grant",
)


class AlertSetting(TimestampMixin, Base):
    __tablename__ = "alert_settings"
    __table_args__ = (Index("ix_alert_settings_env_entity", "environment_id", "entity_id"),)

    id: Mapped[str] = id_column("alert")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(40))
    parent_entity_type: Mapped[str | None] = mapped_column(String(30), default=None)
    parent_entity_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # {"alert_enabled", "alert_threshold_type", "critical"|"warning"|"info":
    #  {"condition", "threshold"}} with thresholds as decimal text (``thresholds.py``)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class AlertState(Base):
    """The state one setting is in for one subject (a customer, for an entitlement; the
    entity itself otherwise) in one period (``period_start``; the epoch for a wallet, whose
    balance has no period). Absent = ``ok``. Written with the log row and the webhook of
    each change, in one transaction, so a restart neither fires a change twice nor misses
    one."""

    __tablename__ = "alert_states"
    __table_args__ = (
        UniqueConstraint("setting_id", "subject_id", "period_start", name="uq_alert_states_key"),
    )

    id: Mapped[str] = id_column("alst")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    setting_id: Mapped[str] = mapped_column(ForeignKey("alert_settings.id"))
    subject_id: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertLog(Base):
    """One change of a setting's state: what ``/alerts/search`` lists."""

    __tablename__ = "alert_logs"
    __table_args__ = (
        Index("ix_alert_logs_env_created", "environment_id", "created_at"),
        Index("ix_alert_logs_env_entity", "environment_id", "entity_id"),
    )

    id: Mapped[str] = id_column("alog")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    setting_id: Mapped[str] = mapped_column(ForeignKey("alert_settings.id"))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(40))
    parent_entity_type: Mapped[str | None] = mapped_column(String(30), default=None)
    parent_entity_id: Mapped[str | None] = mapped_column(String(255), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(40), default=None)
    alert_type: Mapped[str] = mapped_column(String(40))
    alert_status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Money())
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the webhook event the change sent, if any (a softening, e.g. critical → warning, sends none)
    event_type: Mapped[str | None] = mapped_column(String(60), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
