"""Reservations: amounts held against an instance's usage counter before work whose cost is
known afterwards (``licensing/reservations.py``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, UTCDateTime, id_column, utcnow

OVERAGES = ("reject", "cap", "allow")


class UsageHold(Base):
    """An amount held on one counter (instance × entitlement) until ``expires_at``; settled
    into the counter (and its ledger) or released, and then deleted."""

    __tablename__ = "usage_holds"
    __table_args__ = (Index("ix_usage_holds_counter", "instance_id", "feature_id", "expires_at"),)

    id: Mapped[str] = id_column("hold")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Money())
    # What a settlement above the amount does: refused, charged the amount, or charged.
    overage: Mapped[str] = mapped_column(String(10), default="reject")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str | None] = mapped_column(String(40), default=None)
