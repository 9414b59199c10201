"""Customers: the people a vendor bills and licenses. One row serves /v1 and /api."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column, unique_where


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # external_id is unique among published customers of an environment.
        unique_where(
            "uq_customers_env_external_id_published",
            "environment_id",
            "external_id",
            where="status = 'published'",
        ),
        unique_where(
            "uq_customers_env_slug_published",
            "environment_id",
            "slug",
            where="status = 'published' AND slug IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("cust")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(255))
    # The licensing surface addresses customers by slug; derived from external_id if not given.
    slug: Mapped[str | None] = mapped_column(String(255), default=None)
    name: Mapped[str] = mapped_column(String(255))
    # The Kaiten view's ``externalCustomerId`` (/api), its own field: it seeds external_id
    # (the /v1 billing id) when /api creates the customer, and a change on either side stays
    # on its side, so neither surface clobbers the other (docs/kaiten.md).
    api_external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    domain: Mapped[str | None] = mapped_column(String(255), default=None)
    contact: Mapped[str | None] = mapped_column(String(50), default=None)
    address_line1: Mapped[str | None] = mapped_column(String(255), default=None)
    address_line2: Mapped[str | None] = mapped_column(String(255), default=None)
    address_city: Mapped[str | None] = mapped_column(String(255), default=None)
    address_state: Mapped[str | None] = mapped_column(String(255), default=None)
    address_postal_code: Mapped[str | None] = mapped_column(String(50), default=None)
    address_country: Mapped[str | None] = mapped_column(String(2), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    billing_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # "taxable" or "exempt" (taxes.associations: an exempt customer's invoices are not taxed)
    tax_treatment: Mapped[str | None] = mapped_column(String(20), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
