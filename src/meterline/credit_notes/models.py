"""Credit notes and their lines (each line credits one invoice line)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where

REASONS = (
    "DUPLICATE",
    "FRAUDULENT",
    "ORDER_CHANGE",
    "UNSATISFACTORY",
    "SERVICE_ISSUE",
    "BILLING_ERROR",
    "SUBSCRIPTION_CANCELLATION",
)


class CreditNote(TimestampMixin, Base):
    __tablename__ = "credit_notes"
    __table_args__ = (
        Index("ix_credit_notes_env_invoice", "environment_id", "invoice_id"),
        unique_where(
            "uq_credit_notes_env_number",
            "environment_id",
            "credit_note_number",
            where="credit_note_number IS NOT NULL",
        ),
        unique_where(
            "uq_credit_notes_env_idempotency_key",
            "environment_id",
            "idempotency_key",
            where="idempotency_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("cn")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    credit_note_number: Mapped[str | None] = mapped_column(String(100), default=None)
    credit_note_status: Mapped[str] = mapped_column(String(20), default="DRAFT")
    credit_note_type: Mapped[str] = mapped_column(String(20), default="ADJUSTMENT")
    reason: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str | None] = mapped_column(String(2000), default=None)
    # A REFUND note's target: BACK_TO_SOURCE (the payments' providers) or PREPAID_WALLET.
    refund_target: Mapped[str | None] = mapped_column(String(20), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[Decimal] = mapped_column(Money())
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class CreditNoteLineItem(TimestampMixin, Base):
    __tablename__ = "credit_note_line_items"
    __table_args__ = (
        Index("ix_credit_note_line_items_note", "credit_note_id"),
        Index("ix_credit_note_line_items_invoice_line", "invoice_line_item_id"),
    )

    id: Mapped[str] = id_column("cn_line")
    environment_id: Mapped[str] = mapped_column(String(40))
    credit_note_id: Mapped[str] = mapped_column(ForeignKey("credit_notes.id"))
    invoice_line_item_id: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
