"""Price units and exchange rates.

A price unit (``credits``, ``tokens``) is a custom pricing unit with a fixed conversion rate
to one fiat ``base_currency``: ``amount in base currency = amount in units × rate``. Its
``code`` is unique among the environment's live units and never changes.

An exchange rate says how many ``to_currency`` one ``from_currency`` buys from
``start_date`` to ``end_date``, for the environment (``tenant``), a customer or a
subscription.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where

FX_SCOPES = ("tenant", "customer", "subscription")
FX_SOURCES = ("fixed", "market")


class PriceUnit(TimestampMixin, Base):
    __tablename__ = "price_units"
    __table_args__ = (
        unique_where(
            "uq_price_units_env_code_published",
            "environment_id",
            "code",
            where="status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("price_unit")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))
    symbol: Mapped[str] = mapped_column(String(10))
    base_currency: Mapped[str] = mapped_column(String(3))
    conversion_rate: Mapped[Decimal] = mapped_column(Money())
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class FxRate(TimestampMixin, Base):
    __tablename__ = "fx_rates"
    __table_args__ = (
        Index("ix_fx_rates_env_pair", "environment_id", "from_currency", "to_currency"),
    )

    id: Mapped[str] = id_column("fxrate")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    from_currency: Mapped[str] = mapped_column(String(3))
    to_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Money())
    scope: Mapped[str] = mapped_column(String(20), default="tenant")
    scope_id: Mapped[str | None] = mapped_column(String(40), default=None)
    source: Mapped[str] = mapped_column(String(20), default="fixed")
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
