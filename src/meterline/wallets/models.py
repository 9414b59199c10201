"""Wallets and their ledger.

The ledger (``wallet_transactions``) is append-only in what it records: an entry's amounts
never change. Credit entries additionally track ``credits_available`` — how much of that
grant is still unconsumed — which debits (invoice payments, expiry, termination) draw down
in consumption order. ``wallets.credit_balance`` is a cache of the ledger's sum kept in the
same transaction as every entry; the ledger is the truth.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column

WALLET_TYPES = ("PRE_PAID", "POST_PAID")
WALLET_STATUSES = ("active", "frozen", "closed")
TRANSACTION_REASONS = (
    "INVOICE_PAYMENT",
    "FREE_CREDIT_GRANT",
    "SUBSCRIPTION_CREDIT_GRANT",
    "PURCHASED_CREDIT_INVOICED",
    "PURCHASED_CREDIT_DIRECT",
    "CREDIT_NOTE",
    "CREDIT_EXPIRED",
    "WALLET_TERMINATION",
    "MANUAL_BALANCE_DEBIT",
    "CREDIT_ADJUSTMENT",
    "INVOICE_VOID_REFUND",
    "PURCHASED_CREDIT_BONUS",
)
TOP_UP_REASONS = (
    "FREE_CREDIT_GRANT",
    "PURCHASED_CREDIT_INVOICED",
    "PURCHASED_CREDIT_DIRECT",
    "SUBSCRIPTION_CREDIT_GRANT",
    "CREDIT_NOTE",
    "INVOICE_VOID_REFUND",
)


class Wallet(TimestampMixin, Base):
    __tablename__ = "wallets"
    __table_args__ = (Index("ix_wallets_env_customer", "environment_id", "customer_id"),)

    id: Mapped[str] = id_column("wallet")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    wallet_type: Mapped[str] = mapped_column(String(20), default="PRE_PAID")
    wallet_status: Mapped[str] = mapped_column(String(20), default="active")
    conversion_rate: Mapped[Decimal] = mapped_column(Money(), default=Decimal(1))
    topup_conversion_rate: Mapped[Decimal] = mapped_column(Money(), default=Decimal(1))
    # ALL | USAGE | FIXED
    allowed_price_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["ALL"])
    credit_balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    # {"enabled", "threshold", "amount", "invoicing", "cooldown_seconds"} (``auto_topup.py``)
    auto_topup: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class WalletTransaction(TimestampMixin, Base):
    __tablename__ = "wallet_transactions"
    __table_args__ = (
        Index("ix_wallet_transactions_wallet_created", "wallet_id", "created_at"),
        Index(
            "uq_wallet_transactions_wallet_idempotency_key",
            "wallet_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[str] = id_column("wtxn")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    # credit | debit
    type: Mapped[str] = mapped_column(String(10))
    credit_amount: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    credit_balance_before: Mapped[Decimal] = mapped_column(Money())
    credit_balance_after: Mapped[Decimal] = mapped_column(Money())
    credits_available: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    transaction_status: Mapped[str] = mapped_column(String(20), default="completed")
    transaction_reason: Mapped[str] = mapped_column(String(40))
    reference_type: Mapped[str | None] = mapped_column(String(20), default=None)
    reference_id: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    priority: Mapped[int | None] = mapped_column(default=None)
    currency: Mapped[str] = mapped_column(String(3))
    conversion_rate: Mapped[Decimal] = mapped_column(Money())
    topup_conversion_rate: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    parent_transaction_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # Insertion order within a wallet, for a stable ledger order at equal timestamps.
    sequence: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
