"""A cost sheet: the vendor's own cost of what it meters. Its prices are ``prices`` rows with
``entity_type = COSTSHEET`` and the cost sheet's id; nothing bills them to a customer.

``lookup_key``, when given, is unique among the environment's published cost sheets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column, unique_where


class Costsheet(TimestampMixin, Base):
    __tablename__ = "costsheets"
    __table_args__ = (
        unique_where(
            "uq_costsheets_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published'",
        ),
        Index("ix_costsheets_env_status_created", "environment_id", "status", "created_at"),
    )

    id: Mapped[str] = id_column("costsheet")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
