"""Tables of license files v2 and offline licensing: an environment's signing keys (rotated
and retired by kid), the license files issued, offline activations (one per signed request)
and the usage bundles imported from air-gapped installations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, UTCDateTime, id_column, utcnow

KEY_ACTIVE = "active"  # signs new files, published
KEY_PUBLISHED = "published"  # rotated out: signs nothing new, still published and trusted
KEY_RETIRED = "retired"  # no longer published; files it signed are refused


class LicenseSigningKey(Base):
    """One Ed25519 key of an environment's license key set, named by its ``kid``."""

    __tablename__ = "license_signing_keys"
    __table_args__ = (
        # At most one active key per environment: the active key's row holds its
        # environment's id here, the others NULL (NULLs never collide).
        Index("uq_license_signing_keys_active", "active_claim", unique=True),
    )

    environment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(String(4000))
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    status: Mapped[str] = mapped_column(String(10), default=KEY_ACTIVE)
    active_claim: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class IssuedLicenseFile(Base):
    """A v2 license file as issued: its terms, so that a refresh issues the same again."""

    __tablename__ = "license_file_issues"
    __table_args__ = (Index("ix_license_file_issues_instance", "instance_id", "issued_at"),)

    id: Mapped[str] = id_column("lfile")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    kid: Mapped[str] = mapped_column(String(16))
    machine_id: Mapped[str | None] = mapped_column(String(40), default=None)
    fingerprint: Mapped[str | None] = mapped_column(String(255), default=None)
    lifetime_seconds: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    enforcement: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_after: Mapped[datetime] = mapped_column(UTCDateTime())


class OfflineActivation(Base):
    """A machine activated from a signed request file; the request's nonce and the
    installation's key are each used once per environment."""

    __tablename__ = "offline_activations"
    __table_args__ = (
        Index("uq_offline_activations_nonce", "environment_id", "nonce", unique=True),
        Index(
            "uq_offline_activations_installation",
            "environment_id",
            "installation_kid",
            unique=True,
        ),
    )

    id: Mapped[str] = id_column("oact")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    machine_id: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))
    installation_kid: Mapped[str] = mapped_column(String(16))
    installation_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    license_file_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsageBundleImport(Base):
    """One usage bundle of an offline installation, imported once."""

    __tablename__ = "usage_bundle_imports"

    activation_id: Mapped[str] = mapped_column(
        ForeignKey("offline_activations.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    reports: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    # The indexes of the bundle's reports the limits refused (kept for the replayed ack).
    rejected: Mapped[list[int]] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
