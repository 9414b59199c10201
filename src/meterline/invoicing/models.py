"""Invoices, their lines and the per-environment, per-month numbering counter.

Exactly-once billing rests on ``billing_key``: every invoice the billing clock or a
subscription change produces carries a key naming what it bills (e.g. the subscription and
the period start), unique per environment. A second attempt to bill the same thing fails on
the index instead of producing a second invoice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column

INVOICE_TYPES = ("SUBSCRIPTION", "ONE_OFF", "CREDIT")
INVOICE_STATUSES = ("DRAFT", "FINALIZED", "VOIDED", "SKIPPED")
PAYMENT_STATUSES = (
    "INITIATED",
    "PENDING",
    "PROCESSING",
    "SUCCEEDED",
    "OVERPAID",
    "FAILED",
    "REFUNDED",
    "PARTIALLY_REFUNDED",
    "VOIDED",
)
BILLING_REASONS = (
    "SUBSCRIPTION_CREATE",
    "SUBSCRIPTION_CYCLE",
    "SUBSCRIPTION_UPDATE",
    "SUBSCRIPTION_TRIAL_END",
    "SUBSCRIPTION_TRIAL_START",
    "SUBSCRIPTION_PAUSED",
    "SUBSCRIPTION_RESUME",
    "PRORATION",
    "MANUAL",
    "AUTO_INVOICE_THRESHOLD",
    "WALLET_AUTO_TOPUP",
)
ZERO = Decimal(0)
# Finalized invoices in these payment states still have money owed.
UNPAID_STATUSES = ("PENDING", "FAILED", "PROCESSING", "INITIATED")
# What the billing clock's overdue scan reads (``repository.overdue_invoice_ids``), also the
# predicate of its partial index: an invoice leaves the index once it is reported overdue,
# paid or voided, so the scan never reads it again. Literal values, the same text in the
# index and the query: SQLite uses a partial index only for a query that repeats its terms.
OVERDUE_SCAN = (
    "invoice_status = 'FINALIZED' AND overdue_notified_at IS NULL AND payment_status IN ("
    + ", ".join(f"'{s}'" for s in UNPAID_STATUSES)
    + ")"
)


class Invoice(TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_env_customer", "environment_id", "customer_id"),
        Index("ix_invoices_env_subscription", "environment_id", "subscription_id"),
        Index(
            "uq_invoices_env_number",
            "environment_id",
            "invoice_number",
            unique=True,
            sqlite_where=text("invoice_number IS NOT NULL"),
            postgresql_where=text("invoice_number IS NOT NULL"),
        ),
        Index(
            "uq_invoices_env_billing_key",
            "environment_id",
            "billing_key",
            unique=True,
            sqlite_where=text("billing_key IS NOT NULL"),
            postgresql_where=text("billing_key IS NOT NULL"),
        ),
        Index(
            "uq_invoices_env_idempotency_key",
            "environment_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        # The clock finalizes drafts whose grace period is over.
        Index("ix_invoices_status_finalize_after", "invoice_status", "finalize_after"),
        # The clock reports invoices still owed past their due date (invoice.payment.overdue).
        # invoice_status leads (constant in the index) so that SQLite, without statistics,
        # prefers this index over the equality prefix of ix_invoices_status_finalize_after.
        Index(
            "ix_invoices_overdue_scan",
            "invoice_status",
            "due_date",
            "id",
            sqlite_where=text(OVERDUE_SCAN),
            postgresql_where=text(OVERDUE_SCAN),
        ),
    )

    id: Mapped[str] = id_column("inv")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    invoice_type: Mapped[str] = mapped_column(String(20), default="ONE_OFF")
    invoice_status: Mapped[str] = mapped_column(String(20), default="DRAFT")
    payment_status: Mapped[str] = mapped_column(String(20), default="PENDING")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_discount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_tax: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    # The part of total_tax carved out of tax-inclusive prices (subtotal is net of it).
    inclusive_tax: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    # Why no tax was charged: customer_exempt or reverse_charge (the customer's treatment).
    tax_exemption_reason_code: Mapped[str | None] = mapped_column(String(40), default=None)
    total_prepaid_credits_applied: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amount_due: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amount_paid: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    amount_remaining: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    adjustment_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    refunded_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    invoice_number: Mapped[str | None] = mapped_column(String(40), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    billing_key: Mapped[str | None] = mapped_column(String(255), default=None)
    billing_sequence: Mapped[int | None] = mapped_column(default=None)
    billing_period: Mapped[str | None] = mapped_column(String(20), default=None)
    billing_reason: Mapped[str] = mapped_column(String(40), default="MANUAL")
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    invoice_pdf_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    issue_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When the billing clock reported the invoice overdue (``invoice.payment.overdue``), once.
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A DRAFT subscription invoice is recomputed (late events) until this instant, then
    # finalized by the clock; None = finalized only on request.
    finalize_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    is_manually_edited: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class InvoiceLineItem(TimestampMixin, Base):
    __tablename__ = "invoice_line_items"
    __table_args__ = (Index("ix_invoice_line_items_invoice", "invoice_id", "position"),)

    id: Mapped[str] = id_column("inv_line")
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    environment_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(default=0)
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    subscription_line_item_id: Mapped[str | None] = mapped_column(String(40), default=None)
    entity_id: Mapped[str | None] = mapped_column(String(40), default=None)
    entity_type: Mapped[str | None] = mapped_column(String(20), default=None)
    plan_display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    price_id: Mapped[str | None] = mapped_column(String(40), default=None)
    price_type: Mapped[str | None] = mapped_column(String(20), default=None)
    meter_id: Mapped[str | None] = mapped_column(String(40), default=None)
    meter_display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    price_unit: Mapped[str | None] = mapped_column(String(20), default=None)
    price_unit_amount: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    quantity: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    adjusted_entitlement_quantity: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    prepaid_credits_applied: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    line_item_discount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    invoice_level_discount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")


class InvoiceSequence(Base):
    """The last invoice number handed out per environment and month (``YYYYMM``)."""

    __tablename__ = "invoice_sequences"
    __table_args__ = (UniqueConstraint("environment_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(6))
    last_value: Mapped[int] = mapped_column(default=0)
