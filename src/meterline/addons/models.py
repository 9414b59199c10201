"""Add-ons and their associations with subscriptions.

* ``addons``: the catalog entry (name, lookup key); its prices (``prices`` with
  ``entity_type = ADDON``), entitlements (``entitlements``, ``ADDON``) and credit grants
  (``credit_grants``, scope ``ADDON``) hang off it by id.
* ``addon_associations``: one add-on bought by one subscription from ``start_date`` until
  ``end_date`` (``None``: until removed). Its line items carry its id
  (``subscription_line_items.addon_association_id``); while it is active its add-on's
  entitlements are added to the subscription's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, unique_where

ADDON_STATUSES = ("active", "cancelled")


class Addon(TimestampMixin, Base):
    __tablename__ = "addons"
    __table_args__ = (
        unique_where(
            "uq_addons_env_lookup_key_published",
            "environment_id",
            "lookup_key",
            where="status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("addon")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class AddonAssociation(TimestampMixin, Base):
    __tablename__ = "addon_associations"
    __table_args__ = (
        Index("ix_addon_associations_env_entity", "environment_id", "entity_id"),
        Index("ix_addon_associations_env_addon", "environment_id", "addon_id"),
        # One active association of an add-on per subscription: the second add is a 409
        # through this constraint, not through care (docs/billing.md, Add-ons).
        unique_where(
            "uq_addon_associations_active",
            "environment_id",
            "entity_id",
            "addon_id",
            where="addon_status = 'active' AND status = 'published'",
        ),
    )

    id: Mapped[str] = id_column("addon_assoc")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    # The subscription's customer: the entitlement read model keys its versions by it.
    customer_id: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(20), default="subscription")
    entity_id: Mapped[str] = mapped_column(String(40))
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id"))
    addon_status: Mapped[str] = mapped_column(String(20), default="active")
    start_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancellation_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
