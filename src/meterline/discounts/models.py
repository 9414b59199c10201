"""Coupons, the subscriptions they are attached to, and what each invoice took off.

* ``coupons``: the catalog (a fixed amount or a percentage off; once, repeated for
  ``duration_in_periods`` invoices, or forever), with its redemption limit and window.
* ``coupon_associations``: one coupon attached to one subscription, for the whole invoice
  or for the lines of one price (``price_id``); one redemption of the coupon each.
* ``coupon_applications``: what an association took off one invoice (or one of its lines);
  an invoice's rows are rewritten whenever its draft is recomputed, so the count of
  invoices an association discounted is the count of its distinct ``invoice_id``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money, TimestampMixin, UTCDateTime, id_column, unique_where

COUPON_TYPES = ("fixed", "percentage")
CADENCES = ("once", "repeated", "forever")


class Coupon(TimestampMixin, Base):
    __tablename__ = "coupons"
    __table_args__ = (
        unique_where(
            "uq_coupons_env_code_published",
            "environment_id",
            "coupon_code",
            where="status = 'published' AND coupon_code IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("coupon")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    coupon_code: Mapped[str | None] = mapped_column(String(255), default=None)
    type: Mapped[str] = mapped_column(String(20))
    cadence: Mapped[str] = mapped_column(String(20))
    amount_off: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    percentage_off: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    duration_in_periods: Mapped[int | None] = mapped_column(default=None)
    max_redemptions: Mapped[int | None] = mapped_column(default=None)
    total_redemptions: Mapped[int] = mapped_column(default=0)
    redeem_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    redeem_before: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class CouponAssociation(TimestampMixin, Base):
    __tablename__ = "coupon_associations"
    __table_args__ = (
        Index("ix_coupon_associations_env_subscription", "environment_id", "subscription_id"),
        Index("ix_coupon_associations_env_coupon", "environment_id", "coupon_id"),
    )

    id: Mapped[str] = id_column("coupon_assoc")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    coupon_id: Mapped[str] = mapped_column(ForeignKey("coupons.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    # The price whose lines it discounts; None = the whole invoice.
    price_id: Mapped[str | None] = mapped_column(String(40), default=None)
    subscription_line_item_id: Mapped[str | None] = mapped_column(String(40), default=None)
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class CouponApplication(TimestampMixin, Base):
    __tablename__ = "coupon_applications"
    __table_args__ = (
        Index("ix_coupon_applications_invoice", "invoice_id"),
        Index("ix_coupon_applications_association", "coupon_association_id", "invoice_id"),
    )

    id: Mapped[str] = id_column("coupon_app")
    environment_id: Mapped[str] = mapped_column(String(40))
    coupon_id: Mapped[str] = mapped_column(String(40))
    coupon_association_id: Mapped[str] = mapped_column(String(40))
    # No foreign key: the billing clock flushes a chunk's invoices and applications at
    # once, and the unit of work orders mappers without a relationship by their class
    # names (``meterline.discounts…`` before ``meterline.invoicing…``), not by the key.
    invoice_id: Mapped[str] = mapped_column(String(40))
    invoice_line_item_id: Mapped[str | None] = mapped_column(String(40), default=None)
    subscription_id: Mapped[str | None] = mapped_column(String(40), default=None)
    discount_type: Mapped[str] = mapped_column(String(20))
    discount_percentage: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    original_price: Mapped[Decimal] = mapped_column(Money())
    discounted_amount: Mapped[Decimal] = mapped_column(Money())
    final_price: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    coupon_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="published")
