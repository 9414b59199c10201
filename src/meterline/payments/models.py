"""Payments (each with its attempts), refunds, checkout sessions, and the mappings of
Meterline entities to a payment provider's objects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where

ZERO = Decimal(0)

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
DESTINATION_TYPES = ("INVOICE", "CUSTOMER")
METHOD_TYPES = ("CARD", "ACH", "OFFLINE", "CREDITS", "PAYMENT_LINK", "UPI")
GATEWAYS = ("stripe", "razorpay", "nomod", "moyasar", "paddle", "whop", "chargebee")
REFUND_STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED")
REFUND_DESTINATIONS = ("GATEWAY", "WALLET", "OUT_OF_BAND")
CHECKOUT_STATUSES = ("initiated", "pending", "completed", "failed", "expired")
CHECKOUT_ACTIONS = (
    "create_subscription",
    "modify_subscription",
    "wallet_topup",
    "add_addon",
    "pay_invoice",
)
ENTITY_TYPES = (
    "customer",
    "plan",
    "invoice",
    "subscription",
    "payment",
    "credit_note",
    "addon",
    "item",
    "item_price",
    "price",
    "invoice_line_item",
    "subscription_line_item",
)


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_env_destination", "environment_id", "destination_id"),
        Index("ix_payments_env_created", "environment_id", "created_at"),
        unique_where(
            "uq_payments_env_idempotency_key",
            "environment_id",
            "idempotency_key",
            where="idempotency_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("pay")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    destination_type: Mapped[str] = mapped_column(String(20))
    destination_id: Mapped[str] = mapped_column(String(40))
    invoice_number: Mapped[str | None] = mapped_column(String(40), default=None)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    payment_method_type: Mapped[str] = mapped_column(String(20))
    payment_method_id: Mapped[str | None] = mapped_column(String(255), default=None)
    payment_gateway: Mapped[str | None] = mapped_column(String(20), default=None)
    gateway_payment_id: Mapped[str | None] = mapped_column(String(255), default=None)
    gateway_tracking_id: Mapped[str | None] = mapped_column(String(255), default=None)
    gateway_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payment_status: Mapped[str] = mapped_column(String(20), default="INITIATED")
    error_message: Mapped[str | None] = mapped_column(String(2000), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # What this payment paid past what its invoice had left (or all of a CUSTOMER payment),
    # held as the customer's credit: what is left of it (later invoices use it, HeldCreditUse).
    held_credit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    refunded_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    attempt_count: Mapped[int] = mapped_column(default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class HeldCreditUse(TimestampMixin, Base):
    """Part of a payment's held credit that paid an invoice of the same customer and
    currency at its finalization; ``returned_at`` once the invoice was voided and the credit
    held again. One use per payment and invoice: an invoice is finalized once."""

    __tablename__ = "held_credit_uses"
    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id", name="uq_held_credit_uses_payment_invoice"),
        Index("ix_held_credit_uses_env_invoice", "environment_id", "invoice_id"),
    )

    id: Mapped[str] = id_column("hcu")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    invoice_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class PaymentAttempt(TimestampMixin, Base):
    __tablename__ = "payment_attempts"
    __table_args__ = (Index("ix_payment_attempts_payment", "payment_id", "attempt_number"),)

    id: Mapped[str] = id_column("attempt")
    environment_id: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    attempt_number: Mapped[int] = mapped_column()
    payment_status: Mapped[str] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(2000), default=None)
    gateway_payment_id: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)


class Refund(TimestampMixin, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_env_invoice", "environment_id", "invoice_id"),
        Index("ix_refunds_env_payment", "environment_id", "payment_id"),
    )

    id: Mapped[str] = id_column("refund")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    payment_id: Mapped[str | None] = mapped_column(String(40), default=None)
    invoice_id: Mapped[str] = mapped_column(String(40))
    credit_note_id: Mapped[str | None] = mapped_column(String(40), default=None)
    amount: Mapped[Decimal] = mapped_column(Money())
    settled_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    currency: Mapped[str] = mapped_column(String(3))
    refund_status: Mapped[str] = mapped_column(String(20), default="PENDING")
    refund_destination: Mapped[str] = mapped_column(String(20))
    refund_destination_id: Mapped[str | None] = mapped_column(String(255), default=None)
    refund_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    payment_gateway: Mapped[str | None] = mapped_column(String(20), default=None)
    gateway_refund_id: Mapped[str | None] = mapped_column(String(255), default=None)
    gateway_idempotency_token: Mapped[str | None] = mapped_column(String(255), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(2000), default=None)
    attempt: Mapped[int] = mapped_column(default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    initiated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class CheckoutSession(TimestampMixin, Base):
    __tablename__ = "checkout_sessions"
    __table_args__ = (
        unique_where(
            "uq_checkout_sessions_env_idempotency_key",
            "environment_id",
            "idempotency_key",
            where="idempotency_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("chk")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    payment_provider: Mapped[str] = mapped_column(String(20))
    checkout_status: Mapped[str] = mapped_column(String(20), default="initiated")
    invoice_id: Mapped[str | None] = mapped_column(String(40), default=None)
    payment_id: Mapped[str | None] = mapped_column(String(40), default=None)
    payment_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    success_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    cancel_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    failure_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(2000), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")


class IntegrationMapping(TimestampMixin, Base):
    """Which provider object (``provider_entity_id`` at ``provider_type``) a Meterline
    entity is; one live mapping per entity and provider."""

    __tablename__ = "integration_mappings"
    __table_args__ = (
        unique_where(
            "uq_integration_mappings_entity_provider",
            "environment_id",
            "entity_type",
            "entity_id",
            "provider_type",
            where="status = 'published'",
        ),
        Index("ix_integration_mappings_provider_entity", "provider_type", "provider_entity_id"),
    )

    id: Mapped[str] = id_column("map")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    provider_type: Mapped[str] = mapped_column(String(40))
    provider_entity_id: Mapped[str] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
