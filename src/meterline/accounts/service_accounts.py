"""Service accounts: machine identities of one environment, and their tokens (``ksh_...``).

A token may carry only scopes its creator holds (``Principal.ungrantable``), and a key
revokes only tokens it could have minted, as with every other API key.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts import tokens
from meterline.accounts.models import ApiKey, ServiceAccount
from meterline.accounts.principal import Principal
from meterline.db.rows import existing, in_environment, of_environment
from meterline.kernel.errors import AlreadyExists, NotFound, PermissionDenied
from meterline.licensing.common import actor, flush_unique, slug_of


def get_service_account(session: Session, principal: Principal, slug: str) -> ServiceAccount:
    return existing(
        in_environment(
            session, ServiceAccount, principal.environment_id, ServiceAccount.slug == slug
        ),
        "service account",
        slug,
    )


def list_service_accounts(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[ServiceAccount]:
    """``limit + 1`` accounts from ``offset``, in id order (the extra one says there is more)."""
    stmt = of_environment(ServiceAccount, principal.environment_id).order_by(ServiceAccount.id)
    return list(session.scalars(stmt.limit(limit + 1).offset(offset)).all())


def create_service_account(
    session: Session, principal: Principal, *, name: str, slug: str | None
) -> ServiceAccount:
    slug = slug or slug_of(name)
    if in_environment(
        session, ServiceAccount, principal.environment_id, ServiceAccount.slug == slug
    ):
        raise AlreadyExists(f"A service account with the slug {slug} already exists")
    created = ServiceAccount(
        environment_id=principal.environment_id,
        slug=slug,
        name=name,
        created_by=actor(principal),
        updated_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the service account")
    return created


def rename_service_account(session: Session, principal: Principal, slug: str, name: str) -> None:
    found = get_service_account(session, principal, slug)
    found.name = name
    found.updated_by = actor(principal)
    session.flush()


def tokens_of(session: Session, account_ids: list[str]) -> dict[str, list[ApiKey]]:
    """The live tokens of each account, by account id (one query)."""
    found: dict[str, list[ApiKey]] = {account_id: [] for account_id in account_ids}
    if account_ids:
        for token in tokens.live_tokens(session, ApiKey.service_account_id.in_(account_ids)):
            assert token.service_account_id is not None
            found[token.service_account_id].append(token)
    return found


def list_tokens(
    session: Session, principal: Principal, slug: str, limit: int, offset: int
) -> list[ApiKey]:
    """``limit + 1`` of the account's live tokens from ``offset``, never their secrets."""
    account = get_service_account(session, principal, slug)
    stmt = (
        select(ApiKey)
        .where(
            ApiKey.service_account_id == account.id,
            ApiKey.status == "published",
        )
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(session.scalars(stmt.limit(limit + 1).offset(offset)).all())


def create_token(
    session: Session, principal: Principal, slug: str, terms: tokens.TokenTerms
) -> tuple[ApiKey, str]:
    """A new token of the account, and its plaintext (returned once, never stored)."""
    account = get_service_account(session, principal, slug)
    scopes = tokens.granted_scopes(terms.scopes, principal.ungrantable)
    owner = tokens.Owner(
        organization_id=principal.organization_id,
        environment_id=principal.environment_id,
        created_by=actor(principal),
        service_account_id=account.id,
    )
    return tokens.mint(session, owner, terms, scopes)


def revoke_token(session: Session, principal: Principal, slug: str, token_slug: str) -> None:
    account = get_service_account(session, principal, slug)
    token = tokens.live_token(session, ApiKey.service_account_id == account.id, token_slug)
    if token is None:
        raise NotFound("token", token_slug)
    refused = principal.ungrantable(token.scopes)
    if refused is not None:
        raise PermissionDenied(
            f"This key cannot revoke a token with the scope {refused}: a key revokes only "
            "tokens it could have minted"
        )
    tokens.revoke(session, token)
