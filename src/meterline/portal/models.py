"""Customer portal sessions: one row per link handed out by
``customers.create_customer_portal_session``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, UTCDateTime, utcnow


class PortalSession(Base):
    """The link holds a random token; the table holds only its SHA-256, the customer it
    shows and when it stops working."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_expires_at", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    organization_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
