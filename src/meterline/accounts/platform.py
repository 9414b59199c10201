"""Platform credentials (``ksm_...``): deployment-wide, of no organization or environment.

The operator creates them with ``meterline keys create --platform``; only their SHA-256 is
stored, in their own table, so ``accounts.service.authenticate`` (every Core request) never
sees them: a platform credential on a Core route is an unknown key, 401. A platform
credential acts inside an organization only by minting an organization token there, bounded
by its own scopes; revoking the credential revokes every token it minted.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from meterline.accounts import repository, tokens
from meterline.accounts.models import ApiKey, Organization, PlatformCredential
from meterline.accounts.scopes import PLATFORM_SCOPES, holds
from meterline.accounts.service import account_of, display_id, generate_key, hash_key
from meterline.db.base import UTCDateTime, utcnow
from meterline.kernel.errors import InvalidRequest, NotFound, Unauthenticated
from meterline.licensing.common import flush_unique, slug_of

CREDENTIAL_PREFIX = "ksm"
CREDENTIAL_KIND = "platform"
SUBJECT = "system:kaiten"
# The longest lifetime of a platform credential, and of a token one mints.
MAX_TTL = timedelta(days=3650)


@dataclass(frozen=True)
class PlatformPrincipal:
    """The platform credential a request authenticated with."""

    credential_id: str
    name: str
    slug: str
    subject: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None

    def may(self, scope: str) -> bool:
        """Holds ``scope`` (``write:X`` implies ``read:X``; a ``delete:`` only itself)."""
        return holds(self.scopes, scope)

    def ungrantable(self, scopes: Sequence[str]) -> str | None:
        """The first of ``scopes`` this credential does not hold, or ``None``."""
        return next((s for s in scopes if not self.may(s)), None)


def create_credential(
    session: Session, *, name: str, scopes: Iterable[str] | None, ttl: timedelta | None
) -> tuple[PlatformCredential, str]:
    """A new platform credential (every platform scope when ``scopes`` is ``None``); the row
    and its plaintext, shown once."""
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidRequest("name must be 1 to 255 characters", field="name")
    held = sorted(set(scopes)) if scopes is not None else list(PLATFORM_SCOPES)
    unknown = [s for s in held if s not in PLATFORM_SCOPES]
    if unknown:
        raise InvalidRequest(f"unknown platform scope {unknown[0]}", field="scope")
    if ttl is not None and (ttl <= timedelta(0) or ttl > MAX_TTL):
        raise InvalidRequest(f"ttl must be positive and at most {MAX_TTL.days} days", field="ttl")
    slug = slug_of(name)
    if session.scalar(select(PlatformCredential.id).where(PlatformCredential.slug == slug)):
        slug = f"{slug[:90]}-{secrets.token_hex(4)}"
    plaintext = generate_key(CREDENTIAL_PREFIX)
    row = PlatformCredential(
        name=name,
        slug=slug,
        subject=SUBJECT,
        key_hash=hash_key(plaintext),
        display_id=display_id(plaintext),
        scopes=held,
        expires_at=utcnow() + ttl if ttl is not None else None,
    )
    session.add(row)
    flush_unique(session, "the platform credential")
    return row, plaintext


def revoke_credential(session: Session, slug: str) -> int:
    """Revoke the credential and every token it minted; how many tokens that was."""
    row = session.scalars(
        select(PlatformCredential).where(
            PlatformCredential.slug == slug, PlatformCredential.status == "published"
        )
    ).first()
    if row is None:
        raise NotFound("platform credential", slug)
    row.status = "archived"
    archived = repository.archive_keys(session, ApiKey.platform_credential_id == row.id)
    session.flush()
    return archived


_credentials = PlatformCredential.__table__.c


def authenticate(conn: Connection, key: str) -> PlatformPrincipal:
    """The live platform credential ``key`` is, or ``Unauthenticated``."""
    digest = hash_key(key)
    row = conn.execute(
        select(PlatformCredential.__table__).where(_credentials.key_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthenticated("Invalid platform credential")
    if row.status != "published":
        raise Unauthenticated("The platform credential has been revoked")
    decode = UTCDateTime().process_result_value
    expires_at = decode(row.expires_at, conn.dialect)
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthenticated("The platform credential has expired")
    created_at = decode(row.created_at, conn.dialect)
    assert created_at is not None
    scopes = json.loads(row.scopes) if isinstance(row.scopes, str) else row.scopes
    return PlatformPrincipal(
        credential_id=row.id,
        name=row.name,
        slug=row.slug,
        subject=row.subject,
        scopes=frozenset(scopes or ()),
        created_at=created_at,
        expires_at=expires_at,
    )


# --- the organization tokens a platform credential mints -----------------------------------


def mint_token(
    session: Session,
    principal: PlatformPrincipal,
    organization: Organization,
    terms: tokens.TokenTerms,
) -> tuple[ApiKey, str]:
    """An organization token in ``organization``'s default environment, with scopes this
    credential holds; the row and its plaintext."""
    environment = account_of(session, organization).environment
    scopes = tokens.granted_scopes(terms.scopes, principal.ungrantable)
    owner = tokens.Owner(
        organization_id=organization.id,
        environment_id=environment.id,
        created_by=principal.credential_id,
        platform_credential_id=principal.credential_id,
    )
    return tokens.mint(session, owner, terms, scopes)


def list_tokens(
    session: Session, principal: PlatformPrincipal, organization: Organization
) -> list[ApiKey]:
    """This credential's live tokens in the organization (any of its environments)."""
    return tokens.live_tokens(
        session,
        (ApiKey.organization_id == organization.id)
        & (ApiKey.platform_credential_id == principal.credential_id),
    )


def revoke_token(
    session: Session, principal: PlatformPrincipal, organization: Organization, slug: str
) -> None:
    token = tokens.live_token(
        session,
        (ApiKey.organization_id == organization.id)
        & (ApiKey.platform_credential_id == principal.credential_id),
        slug,
    )
    if token is None:
        raise NotFound("token", slug)
    tokens.revoke(session, token)
