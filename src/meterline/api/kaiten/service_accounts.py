"""/api/service-accounts: machine identities of the environment, and their tokens.

A token is an API key with the ``ksh_`` prefix and Kaiten scopes (``accounts/tokens.py``);
its plaintext is in the creating response only. Reading needs ``read:tokens``, changing
``write:tokens``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.accounts import service_accounts as service
from meterline.accounts.models import ApiKey, ServiceAccount
from meterline.accounts.principal import Principal
from meterline.accounts.scopes import KAITEN_SCOPES
from meterline.accounts.tokens import TokenTerms
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import SLUG, Body, Page, compact, scope, user
from meterline.api.kaiten.ids import wire_id
from meterline.kernel.instants import Instant

router = APIRouter(tags=["service accounts"])

ReadTokens = Annotated[Principal, Depends(scope("read", "tokens"))]
WriteTokens = Annotated[Principal, Depends(scope("write", "tokens"))]

KaitenScope = Literal[KAITEN_SCOPES]  # type: ignore[valid-type]
Scopes = Annotated[list[KaitenScope], Field(max_length=len(KAITEN_SCOPES))]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Slug = Annotated[str, Field(min_length=2, max_length=100, pattern=SLUG)]


class ServiceAccountIn(Body):
    name: Name
    slug: Slug | None = None


class ServiceAccountRename(Body):
    name: Name


class TokenIn(Body):
    name: Name
    scopes: Scopes | None = None
    slug: Slug | None = None
    expiresAt: Instant | None = None

    def terms(self) -> TokenTerms:
        return TokenTerms(
            name=self.name,
            scopes=tuple(self.scopes) if self.scopes is not None else None,
            slug=self.slug,
            expires_at=self.expiresAt,
        )


def token_out(token: ApiKey, plaintext: str | None = None) -> dict[str, Any]:
    """A token's metadata; its secret only when ``plaintext`` is given (at creation)."""
    return compact(
        {
            "id": wire_id(token.id),
            "name": token.name,
            "slug": token.slug,
            "scopes": list(token.scopes),
            "serviceAccountId": wire_id(token.service_account_id),
            "createdAt": iso(token.created_at),
            "createdBy": user(token.created_by),
            "expiresAt": iso(token.expires_at) if token.expires_at else None,
            "token": plaintext,
        }
    )


def account_out(account: ServiceAccount, tokens: list[ApiKey]) -> dict[str, Any]:
    return {
        "id": wire_id(account.id),
        "slug": account.slug,
        "name": account.name,
        "createdAt": iso(account.created_at),
        "createdBy": user(account.created_by),
        "tokens": [token_out(t) for t in tokens],
    }


@router.get("/service-accounts")
def list_service_accounts(
    principal: ReadTokens, session: ReadSession, page: Page = Depends()
) -> Response:
    accounts = service.list_service_accounts(session, principal, page.limit, page.offset)
    tokens = service.tokens_of(session, [a.id for a in accounts[: page.limit]])
    return page.answer(accounts, lambda a: account_out(a, tokens.get(a.id, [])))


@router.post("/service-accounts", status_code=201)
def create_service_account(
    body: ServiceAccountIn, principal: WriteTokens, session: WriteSession
) -> Response:
    created = service.create_service_account(session, principal, name=body.name, slug=body.slug)
    return json_response(account_out(created, []), 201)


@router.get("/service-accounts/{serviceAccountSlug}")
def get_service_account(
    serviceAccountSlug: str, principal: ReadTokens, session: ReadSession
) -> Response:
    found = service.get_service_account(session, principal, serviceAccountSlug)
    return json_response(account_out(found, service.tokens_of(session, [found.id])[found.id]))


@router.put("/service-accounts/{serviceAccountSlug}", status_code=204)
def rename_service_account(
    serviceAccountSlug: str,
    body: ServiceAccountRename,
    principal: WriteTokens,
    session: WriteSession,
) -> Response:
    service.rename_service_account(session, principal, serviceAccountSlug, body.name)
    return Response(status_code=204)


@router.get("/service-accounts/{serviceAccountSlug}/tokens")
def list_tokens(
    serviceAccountSlug: str, principal: ReadTokens, session: ReadSession, page: Page = Depends()
) -> Response:
    found = service.list_tokens(session, principal, serviceAccountSlug, page.limit, page.offset)
    return page.answer(found, token_out)


@router.post("/service-accounts/{serviceAccountSlug}/tokens", status_code=201)
def create_token(
    serviceAccountSlug: str, body: TokenIn, principal: WriteTokens, session: WriteSession
) -> Response:
    token, plaintext = service.create_token(session, principal, serviceAccountSlug, body.terms())
    return json_response(token_out(token, plaintext), 201)


@router.delete("/service-accounts/{serviceAccountSlug}/tokens/{tokenSlug}", status_code=204)
def delete_token(
    serviceAccountSlug: str, tokenSlug: str, principal: WriteTokens, session: WriteSession
) -> Response:
    service.revoke_token(session, principal, serviceAccountSlug, tokenSlug)
    return Response(status_code=204)
