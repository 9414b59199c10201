"""Saved analytics views: a named report question (``analytics/views.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column


class AnalyticsView(TimestampMixin, Base):
    __tablename__ = "analytics_views"
    __table_args__ = (
        Index("ix_analytics_views_env_family_created", "environment_id", "family", "created_at"),
    )

    id: Mapped[str] = id_column("view")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(255))
    family: Mapped[str] = mapped_column(String(20))
    # The definition as checked and rendered back (``views.definition_json``).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
