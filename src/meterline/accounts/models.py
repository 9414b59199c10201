"""Organizations, environments, users, API keys, and the dashboard's sign-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow


class Organization(TimestampMixin, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = id_column("tenant")
    name: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(default=False)
    # The identity provider's id of the organization (Kaiten's externalId), for the
    # organizations the Platform API ensures; their id is derived from it.
    external_id: Mapped[str | None] = mapped_column(String(255), default=None, unique=True)


class Environment(TimestampMixin, Base):
    __tablename__ = "environments"

    id: Mapped[str] = id_column("env")
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))  # development | production
    status: Mapped[str] = mapped_column(String(20), default="published")
    # The Ed25519 signing key of the environment (licensing); created on first use.
    signing_key_pem: Mapped[str | None] = mapped_column(String(4000), default=None)


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column("user")
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    type: Mapped[str] = mapped_column(String(30), default="user")  # user | service_account
    # Role ids (accounts/roles.py). The organization's first user, made at setup, is its owner.
    roles: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["owner"])
    # Argon2id (accounts/passwords.py); people only, service accounts have none.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    # Set when the user is deleted or removed from its organization: the row stays, so
    # what it created keeps its attribution, and its keys stop working.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ServiceAccount(TimestampMixin, Base):
    """A machine identity of one environment; its tokens are API keys (``ksh_...``)."""

    __tablename__ = "service_accounts"
    __table_args__ = (Index("uq_service_accounts_env_slug", "environment_id", "slug", unique=True),)

    id: Mapped[str] = id_column("sa")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class ApiKey(TimestampMixin, Base):
    """An API key. Only its SHA-256 hash is stored; the key itself is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_key_hash", "key_hash", unique=True),
        Index("uq_api_keys_service_account_slug", "service_account_id", "slug", unique=True),
        Index("ix_api_keys_platform_credential", "platform_credential_id"),
    )

    id: Mapped[str] = id_column("secret")
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(30), default="private_key")
    key_hash: Mapped[str] = mapped_column(String(64))
    display_id: Mapped[str] = mapped_column(String(40))
    # When set, the key may only read the usage of this customer (GET /v1/usage).
    customer_external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="published")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A Kaiten token (``ksh_...``): of a service account, or minted by a platform
    # credential; ``slug`` is the handle its revocation takes.
    service_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("service_accounts.id"), default=None
    )
    platform_credential_id: Mapped[str | None] = mapped_column(String(40), default=None)
    slug: Mapped[str | None] = mapped_column(String(100), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)


class PlatformCredential(TimestampMixin, Base):
    """A platform credential (``ksm_...``): deployment-wide, of no environment, created by
    the operator (``meterline keys create --platform``). Only its SHA-256 is stored."""

    __tablename__ = "platform_credentials"
    __table_args__ = (
        Index("uq_platform_credentials_key_hash", "key_hash", unique=True),
        Index("uq_platform_credentials_slug", "slug", unique=True),
    )

    id: Mapped[str] = id_column("pcred")
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64))
    display_id: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="published")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class UiSession(Base):
    """A dashboard sign-in session. The cookie holds a random token; the table holds its
    SHA-256 and either the SHA-256 of the API key it was opened with or the user who signed
    in with a password — never a key, never a token, never a password."""

    __tablename__ = "ui_sessions"
    __table_args__ = (
        Index("ix_ui_sessions_expires_at", "expires_at"),
        Index("ix_ui_sessions_user_id", "user_id"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # One of the two: a session opened with an API key, or by a person with a password.
    key_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # Where the sign-in came from (shown on the sessions page, so a stranger's stands out).
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    environment_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SignInFailure(Base):
    """A failed dashboard sign-in, kept for the throttling window (accounts/sign_in.py):
    by the address it came from and the email it named (lower-cased), never the password."""

    __tablename__ = "ui_sign_in_failures"
    __table_args__ = (
        Index("ix_ui_sign_in_failures_email_at", "email", "at"),
        Index("ix_ui_sign_in_failures_address_at", "client_address", "at"),
    )

    id: Mapped[str] = id_column("signin")
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    client_address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TenantProfile(TimestampMixin, Base):
    """The seller's profile of an organization: who its invoices and portal say they are
    from (accounts/tenants.py). One row per organization, made at the first update."""

    __tablename__ = "tenant_profiles"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    legal_name: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    help_email: Mapped[str | None] = mapped_column(String(255), default=None)
    phone: Mapped[str | None] = mapped_column(String(50), default=None)
    address_line1: Mapped[str | None] = mapped_column(String(255), default=None)
    address_line2: Mapped[str | None] = mapped_column(String(255), default=None)
    address_city: Mapped[str | None] = mapped_column(String(255), default=None)
    address_state: Mapped[str | None] = mapped_column(String(255), default=None)
    address_postal_code: Mapped[str | None] = mapped_column(String(50), default=None)
    address_country: Mapped[str | None] = mapped_column(String(100), default=None)
    # [{"type": "eu_vat", "value": "DE123456789"}, ...]
    tax_ids: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # A PNG or JPEG as a data: URL, bounded (accounts/tenants.py MAX_LOGO_CHARS).
    logo: Mapped[str | None] = mapped_column(Text, default=None)
    invoice_footer: Mapped[str | None] = mapped_column(String(1000), default=None)
    payment_terms: Mapped[str | None] = mapped_column(String(255), default=None)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
