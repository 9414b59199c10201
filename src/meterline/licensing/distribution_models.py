"""What a vendor ships and where it runs: components, releases, deployment zones; the typed
metadata fields of instances and zones; and the audit trail of licensing changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow

METADATA_RESOURCE_TYPES = ("DEPLOYMENT_ZONE", "INSTANCE")


class Component(TimestampMixin, Base):
    """A versioned building block of the vendor's product."""

    __tablename__ = "components"
    __table_args__ = (Index("uq_components_env_slug", "environment_id", "slug", unique=True),)

    id: Mapped[str] = id_column("comp")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    # Set once, on create; a deleted predecessor leaves the link dangling as the id it was.
    previous_component_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class Release(TimestampMixin, Base):
    """An immutable, versioned set of components."""

    __tablename__ = "releases"
    __table_args__ = (
        Index("uq_releases_env_slug", "environment_id", "slug", unique=True),
        Index("uq_releases_env_version", "environment_id", "version", unique=True),
    )

    id: Mapped[str] = id_column("rel")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)


class ReleaseComponent(Base):
    """A component of a release, in the order the release lists them."""

    __tablename__ = "release_components"
    __table_args__ = (Index("ix_release_components_component", "component_id"),)

    release_id: Mapped[str] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(ForeignKey("components.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class DeploymentZone(TimestampMixin, Base):
    """An environment instances run in, and the release deployed to it."""

    __tablename__ = "deployment_zones"
    __table_args__ = (
        Index("uq_deployment_zones_env_slug", "environment_id", "slug", unique=True),
        Index("ix_deployment_zones_release", "release_id"),
    )

    id: Mapped[str] = id_column("dzone")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(2000), default="")
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    release_id: Mapped[str | None] = mapped_column(ForeignKey("releases.id"), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class MetadataField(TimestampMixin, Base):
    """A typed metadata key of instances or deployment zones: a JSON Schema for its value."""

    __tablename__ = "metadata_fields"
    __table_args__ = (
        # A key is unique among the active fields of a resource type; archiving frees it.
        Index(
            "uq_metadata_fields_active_key",
            "environment_id",
            "resource_type",
            "key",
            unique=True,
            sqlite_where=text("archived_at IS NULL"),
            postgresql_where=text("archived_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column("mfld")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    resource_type: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(255))
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    display_order: Mapped[int | None] = mapped_column(Integer, default=None)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class AuditEntry(Base):
    """One licensing change: who did what to which instance (or license), when.

    ``seq`` orders the trail (a cursor is the last ``seq`` read); ``id`` is what clients see.
    A license or grant change concerns every instance under the license: it is kept once,
    with ``license_id`` and no ``instance_id``, and read into each such instance's trail.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_instance", "instance_id", "seq"),
        Index("ix_audit_entries_license", "license_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(40), unique=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    event_name: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(150))
    instance_id: Mapped[str | None] = mapped_column(String(40), default=None)
    instance_slug: Mapped[str | None] = mapped_column(String(100), default=None)
    license_id: Mapped[str | None] = mapped_column(String(40), default=None)
    actor: Mapped[str | None] = mapped_column(String(40), default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
