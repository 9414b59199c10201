"""Tax rates: a named percentage, unique by ``code`` among the environment's live rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, id_column, unique_where

TAX_RATE_TYPES = ("percentage",)
SCOPES = ("INTERNAL", "EXTERNAL", "ONETIME")
RATE_STATUSES = ("ACTIVE", "INACTIVE")


class TaxRate(TimestampMixin, Base):
    __tablename__ = "tax_rates"
    __table_args__ = (
        unique_where(
            "uq_tax_rates_env_code_published",
            "environment_id",
            "code",
            where="status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("taxrate")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    code: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    tax_rate_type: Mapped[str] = mapped_column(String(20), default="percentage")
    percentage_value: Mapped[Decimal] = mapped_column(Money())
    scope: Mapped[str] = mapped_column(String(20), default="INTERNAL")
    tax_rate_status: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
