"""One row per write a caller made: the entity, the action and what changed.

Rows are written by :mod:`meterline.activity.recorder` in the transaction of the write
itself, so an entry exists exactly when its change was committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, UTCDateTime, id_column, utcnow


class ActivityEntry(Base):
    __tablename__ = "activity_log"
    __table_args__ = (
        # Newest first within an environment (ids are ULIDs: time-ordered).
        Index("ix_activity_log_env_id", "environment_id", "id"),
        Index("ix_activity_log_env_entity", "environment_id", "entity_type", "entity_id"),
        Index("ix_activity_log_env_occurred", "environment_id", "occurred_at"),
    )

    id: Mapped[str] = id_column("act")
    environment_id: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))  # "api_key" or "user"
    actor_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))  # created, updated, archived, deleted
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(255), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(40), default=None)
    source: Mapped[str] = mapped_column(String(20))  # "api", "licensing" or "dashboard"
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
