"""Tax rates (a named percentage, unique by ``code`` among the environment's live rates),
their associations with customers, subscriptions and the environment, and the tax each
rate added to an invoice."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where

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


ENTITY_TYPES = ("customer", "subscription", "tenant")
TAX_BEHAVIORS = ("exclusive", "inclusive")


class TaxAssociation(TimestampMixin, Base):
    """A rate applied to the invoices of a customer, of a subscription, or of the whole
    environment (``tenant``: ``entity_id`` is the environment's id)."""

    __tablename__ = "tax_associations"
    __table_args__ = (Index("ix_tax_associations_env_entity", "environment_id", "entity_id"),)

    id: Mapped[str] = id_column("taxassoc")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    tax_rate_id: Mapped[str] = mapped_column(ForeignKey("tax_rates.id"))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    priority: Mapped[int] = mapped_column(default=100)
    auto_apply: Mapped[bool] = mapped_column(default=True)
    tax_behavior: Mapped[str] = mapped_column(String(20), default="exclusive")
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class TaxApplied(TimestampMixin, Base):
    """The tax one rate added to one invoice: the sum of its per-line amounts."""

    __tablename__ = "taxes_applied"
    __table_args__ = (Index("ix_taxes_applied_entity", "entity_type", "entity_id"),)

    id: Mapped[str] = id_column("taxapp")
    environment_id: Mapped[str] = mapped_column(String(40))
    tax_rate_id: Mapped[str] = mapped_column(String(40))
    tax_association_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # No foreign key to the invoice: see discounts.models.CouponApplication.invoice_id.
    entity_type: Mapped[str] = mapped_column(String(20), default="invoice")
    entity_id: Mapped[str] = mapped_column(String(40))
    taxable_amount: Mapped[Decimal] = mapped_column(Money())
    tax_amount: Mapped[Decimal] = mapped_column(Money())
    # inclusive: the tax was carved out of the price; exclusive: added to it.
    tax_behavior: Mapped[str] = mapped_column(String(20), default="exclusive")
    currency: Mapped[str] = mapped_column(String(3))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
