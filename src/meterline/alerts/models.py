"""Alert settings: one per entity (a wallet), with up to three thresholds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column

ENTITY_TYPES = ("wallet",)  # the SDK's others (feature, subscription, ...) are not built
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
