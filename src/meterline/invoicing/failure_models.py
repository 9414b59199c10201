"""Billing failures: what the billing clock could not bill, and why.

One row per thing the clock failed to do (``failure_key``, unique per environment, names it
as the invoice's ``billing_key`` would: ``<subscription>:period:<period start>`` for a period
it could not close, ``<invoice>:finalize`` for a draft it could not finalize). The row stays
open (``resolved_at`` NULL) until a later run succeeds; ``last_run_id`` lets a run skip what
already failed in that same run, so one bad subscription costs one attempt per run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, UTCDateTime, id_column

STAGES = ("close_period", "finalize")
MAX_REASON = 1000


class BillingFailure(Base):
    __tablename__ = "billing_failures"
    __table_args__ = (
        Index("uq_billing_failures_env_key", "environment_id", "failure_key", unique=True),
        Index("ix_billing_failures_subscription", "subscription_id", "resolved_at"),
        Index("ix_billing_failures_invoice", "invoice_id", "resolved_at"),
    )

    id: Mapped[str] = id_column("bfail")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    failure_key: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(20))
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    invoice_id: Mapped[str | None] = mapped_column(String(40), default=None)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    attempts: Mapped[int] = mapped_column(default=1)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_run_id: Mapped[str] = mapped_column(String(40))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
