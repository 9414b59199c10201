"""Licensing tables: license families and versions, instances, usage counters and their
ledger, entitlement groups, and the licensing-only attributes of catalog features.

Grants of a feature to a license are ``entitlements.models.Entitlement`` rows with
``entity_type = "LICENSE"``; customers are ``customers.models.Customer`` rows; catalog
entitlements are ``catalog.models.Feature`` rows. Nothing here duplicates them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import (
    Base,
    Money,
    TimestampMixin,
    UTCDateTime,
    id_column,
    unique_where,
    utcnow,
)

LICENSE_TYPES = ("DEVELOPMENT", "TRIAL", "PAID", "COMMUNITY")
LIFECYCLE_STATES = ("DRAFT", "PUBLISHED", "ARCHIVED")
INSTANCE_STATUSES = ("HEALTHY", "DEGRADED", "INCIDENT", "MAINTENANCE")


class LicenseFamily(TimestampMixin, Base):
    """A product: the versions of one license."""

    __tablename__ = "license_families"
    __table_args__ = (Index("uq_license_families_env_slug", "environment_id", "slug", unique=True),)

    id: Mapped[str] = id_column("lfam")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    # Version numbers are never reused, even after a version is deleted.
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class License(TimestampMixin, Base):
    """One version of a license family."""

    __tablename__ = "licenses"
    __table_args__ = (
        Index("uq_licenses_env_slug", "environment_id", "slug", unique=True),
        Index("ix_licenses_family", "family_id"),
    )

    id: Mapped[str] = id_column("lic")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    family_id: Mapped[str] = mapped_column(ForeignKey("license_families.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(500), default="")
    type: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    version_name: Mapped[str | None] = mapped_column(String(50), default=None)
    lifecycle_state: Mapped[str] = mapped_column(String(20), default="PUBLISHED")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class Instance(TimestampMixin, Base):
    """A self-hosted deployment of a customer, running under one license version."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("uq_instances_env_slug", "environment_id", "slug", unique=True),
        Index("ix_instances_customer", "customer_id"),
        Index("ix_instances_license", "license_id"),
    )

    id: Mapped[str] = id_column("inst")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(2000), default="")
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))
    start_license_date: Mapped[datetime] = mapped_column(UTCDateTime())
    end_license_date: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="HEALTHY")
    lifecycle_stage: Mapped[str | None] = mapped_column(String(50), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    deployment_zone_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployment_zones.id"), default=None
    )
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class UsageCounter(Base):
    """The reported usage of one feature by one instance, in its current window.

    One row per (instance, feature); every report locks it, which is what serializes
    reports and keeps limits true under concurrency.
    """

    __tablename__ = "usage_counters"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id"), primary_key=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # Start of the window the value belongs to; None for a lifetime counter.
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_behavior: Mapped[str | None] = mapped_column(String(10), default=None)
    last_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class UsageReport(Base):
    """The ledger: every accepted or rejected report, so a counter can be audited."""

    __tablename__ = "usage_reports"
    __table_args__ = (
        Index("ix_usage_reports_counter", "instance_id", "feature_id", "id"),
        # An accepted transactionId is used once per counter; rejected reports don't consume it.
        unique_where(
            "uq_usage_reports_transaction",
            "instance_id",
            "feature_id",
            "transaction_id",
            where="status = 'ACCEPTED' AND transaction_id IS NOT NULL",
        ),
    )

    id: Mapped[str] = id_column("urep")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id"))
    behavior: Mapped[str] = mapped_column(String(10))
    reported_value: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(10))  # ACCEPTED | REJECTED
    previous_value: Mapped[Decimal] = mapped_column(Money())
    # The counter after the report (for a rejection: the value that was refused).
    resulting_value: Mapped[Decimal] = mapped_column(Money())
    event_count: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    transaction_id: Mapped[str | None] = mapped_column(String(128), default=None)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    # The body answered, replayed verbatim for a repeated transactionId.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EntitlementGroup(TimestampMixin, Base):
    __tablename__ = "entitlement_groups"
    __table_args__ = (
        Index("uq_entitlement_groups_env_slug", "environment_id", "slug", unique=True),
    )

    id: Mapped[str] = id_column("egrp")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)


class EntitlementGroupMember(Base):
    __tablename__ = "entitlement_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("entitlement_groups.id", ondelete="CASCADE"), primary_key=True
    )
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeatureLicensing(Base):
    """Licensing-only attributes of a catalog feature (display and warning settings)."""

    __tablename__ = "feature_licensing"

    feature_id: Mapped[str] = mapped_column(
        ForeignKey("features.id", ondelete="CASCADE"), primary_key=True
    )
    # Keeps NUMBER_AI_CREDIT apart from NUMBER (both are metered features).
    entitlement_type: Mapped[str | None] = mapped_column(String(20), default=None)
    warning_threshold_percent: Mapped[int] = mapped_column(Integer, default=0)
    user_facing: Mapped[bool] = mapped_column(default=False)
    display_order: Mapped[int | None] = mapped_column(Integer, default=None)
    icon: Mapped[str | None] = mapped_column(String(100), default=None)
    sale_unit_singular: Mapped[str | None] = mapped_column(String(100), default=None)
    sale_unit_plural: Mapped[str | None] = mapped_column(String(100), default=None)
    sale_unit_factor: Mapped[Decimal | None] = mapped_column(Money(), default=None)
