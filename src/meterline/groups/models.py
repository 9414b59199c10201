"""A group of prices or of features (``entity_type``), unique by ``lookup_key`` among the
environment's live groups. Its members are the prices (or features) whose ``group_id`` is
the group's id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column, unique_where

ENTITY_TYPES = ("price", "feature")


class Group(TimestampMixin, Base):
    __tablename__ = "groups"
    __table_args__ = (
        unique_where(
            "uq_groups_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("group")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str] = mapped_column(String(255))
    entity_type: Mapped[str] = mapped_column(String(20))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
