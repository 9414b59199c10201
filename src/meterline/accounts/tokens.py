"""Kaiten organization tokens (``ksh_...``): API keys of one environment that carry Kaiten
scopes, belong to a service account or to the platform credential that minted them, and
are revoked by their slug.

They are ordinary API keys (``accounts.service.authenticate`` resolves them unchanged): the
token's scopes are the key's scopes, its expiry the key's expiry, its revocation the key's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from meterline.accounts.models import ApiKey
from meterline.accounts.scopes import KAITEN_SCOPES
from meterline.accounts.service import display_id, generate_key, hash_key
from meterline.db.base import utcnow
from meterline.kernel.errors import AlreadyExists, InvalidRequest, PermissionDenied
from meterline.licensing.common import flush_unique, slug_of

TOKEN_PREFIX = "ksh"


@dataclass(frozen=True)
class TokenTerms:
    """What a new token states: its label, scopes (``None``: every Kaiten scope its minter
    may grant), slug (generated when ``None``) and expiry (``None``: until revoked)."""

    name: str
    scopes: tuple[str, ...] | None = None
    slug: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Owner:
    """Where a token lives and who minted it."""

    organization_id: str
    environment_id: str
    created_by: str
    service_account_id: str | None = None
    platform_credential_id: str | None = None

    def siblings(self) -> ColumnElement[bool]:
        """The tokens a new one's name and slug must differ from."""
        if self.service_account_id is not None:
            return ApiKey.service_account_id == self.service_account_id
        return (ApiKey.environment_id == self.environment_id) & (
            ApiKey.platform_credential_id == self.platform_credential_id
        )


def granted_scopes(
    requested: Sequence[str] | None, ungrantable: Callable[[Sequence[str]], str | None]
) -> list[str]:
    """The scopes of a new token: ``requested``, each of which the minter must be able to
    grant (403 naming the first it cannot), or every Kaiten scope it can."""
    if requested is None:
        return [s for s in KAITEN_SCOPES if ungrantable([s]) is None]
    refused = ungrantable(requested)
    if refused is not None:
        raise PermissionDenied(f"This credential cannot grant the scope {refused}")
    return sorted(set(requested))


def mint(
    session: Session, owner: Owner, terms: TokenTerms, scopes: list[str]
) -> tuple[ApiKey, str]:
    """A new token of ``owner``; the row and its plaintext, which is never stored."""
    if terms.expires_at is not None and terms.expires_at <= utcnow():
        raise InvalidRequest("expiresAt must be in the future", field="expiresAt")
    siblings = owner.siblings()
    live = session.scalar(
        select(ApiKey.id).where(siblings, ApiKey.status == "published", ApiKey.name == terms.name)
    )
    if live is not None:
        raise AlreadyExists(f"An active token named {terms.name} already exists")
    slug = terms.slug or slug_of(terms.name)
    taken = session.scalar(select(ApiKey.id).where(siblings, ApiKey.slug == slug))
    if taken is not None:
        if terms.slug is not None:
            raise AlreadyExists(f"A token with the slug {slug} already exists")
        slug = f"{slug[:90]}-{secrets.token_hex(4)}"
    plaintext = generate_key(TOKEN_PREFIX)
    row = ApiKey(
        organization_id=owner.organization_id,
        environment_id=owner.environment_id,
        user_id=None,
        name=terms.name,
        key_hash=hash_key(plaintext),
        display_id=display_id(plaintext),
        scopes=scopes,
        expires_at=terms.expires_at,
        service_account_id=owner.service_account_id,
        platform_credential_id=owner.platform_credential_id,
        slug=slug,
        created_by=owner.created_by,
    )
    session.add(row)
    flush_unique(session, "the token")
    return row, plaintext


def live_tokens(session: Session, where: ColumnElement[bool]) -> list[ApiKey]:
    """The unrevoked tokens matching ``where``, oldest first."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(where, ApiKey.status == "published", ApiKey.slug.is_not(None))
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()
    )


def live_token(session: Session, where: ColumnElement[bool], slug: str) -> ApiKey | None:
    return session.scalars(
        select(ApiKey).where(where, ApiKey.status == "published", ApiKey.slug == slug)
    ).first()


def revoke(session: Session, token: ApiKey) -> None:
    token.status = "archived"
    session.flush()
