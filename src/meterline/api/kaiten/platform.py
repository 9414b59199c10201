"""/api/platform: the Kaiten Platform API, for platform credentials (``ksm_...``) only.

Organizations are ensured by their identity provider's id, organization tokens minted,
listed and revoked in them, and users removed. Who may call, and what a Core key hears
here, is ``platform_auth.py``'s. Scopes, as the contract lists them per operation:
``write:organizations`` ensures, ``read:organizations`` reads, ``delete:organizations`` /
``delete:memberships`` / ``delete:users`` delete, ``write:tokens`` mints and revokes,
``read:tokens`` lists and describes the caller (``/me``); ``write:organizations`` also
registers the deployment's connectors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field, field_validator

from meterline.accounts import organizations, platform
from meterline.accounts.models import Organization
from meterline.accounts.platform import PlatformPrincipal
from meterline.accounts.tokens import TokenTerms
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import Body, compact
from meterline.api.kaiten.connectors import connector_out
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.api.kaiten.platform_auth import platform_scope
from meterline.api.kaiten.service_accounts import Name, Scopes, token_out
from meterline.db.base import utcnow
from meterline.kernel.durations import parse_go_duration
from meterline.licensing import connectors
from meterline.licensing.connectors import ConnectorRegistration

router = APIRouter(prefix="/platform", tags=["platform"])

EnsureOrganizations = Annotated[PlatformPrincipal, Depends(platform_scope("write:organizations"))]
ReadOrganizations = Annotated[PlatformPrincipal, Depends(platform_scope("read:organizations"))]
DeleteOrganizations = Annotated[PlatformPrincipal, Depends(platform_scope("delete:organizations"))]
DeleteMemberships = Annotated[PlatformPrincipal, Depends(platform_scope("delete:memberships"))]
DeleteUsers = Annotated[PlatformPrincipal, Depends(platform_scope("delete:users"))]
ReadTokens = Annotated[PlatformPrincipal, Depends(platform_scope("read:tokens"))]
WriteTokens = Annotated[PlatformPrincipal, Depends(platform_scope("write:tokens"))]


class OrganizationIn(Body):
    externalId: str = Field(min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=255)


class MintIn(Body):
    name: Name
    scopes: Scopes | None = None
    ttl: str | None = Field(
        default=None,
        max_length=64,
        description=f"A Go duration, e.g. 7776000s; at most {platform.MAX_TTL.days} days.",
    )

    @field_validator("ttl")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_go_duration(value, maximum=platform.MAX_TTL)
        return value

    def terms(self) -> TokenTerms:
        lifetime: timedelta | None = None
        if self.ttl is not None:
            lifetime = parse_go_duration(self.ttl, maximum=platform.MAX_TTL)
        return TokenTerms(
            name=self.name,
            scopes=tuple(self.scopes) if self.scopes is not None else None,
            expires_at=utcnow() + lifetime if lifetime is not None else None,
        )


class ConnectorIn(Body):
    """A connector's manifest, as the process hosting it registers it (snake_case)."""

    name: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=100)
    settings_schema: FreeObject = Field(default_factory=dict, max_length=200)
    entitlement_slug: str | None = Field(default=None, min_length=1, max_length=100)

    def registration(self) -> ConnectorRegistration:
        return ConnectorRegistration(
            name=self.name,
            version=self.version,
            settings_schema=self.settings_schema,
            entitlement_slug=self.entitlement_slug,
        )


def organization_out(org: Organization) -> dict[str, Any]:
    return {"id": wire_id(org.id), "external_id": org.external_id or "", "name": org.name}


def _organization(session: ReadSession, organization_id: str) -> Organization:
    return organizations.get_organization(session, id_of(organization_id, "tenant", "organization"))


@router.get("/me")
def me(principal: ReadTokens) -> Response:
    return json_response(
        compact(
            {
                "id": wire_id(principal.credential_id),
                "name": principal.name,
                "slug": principal.slug,
                "scopes": sorted(principal.scopes),
                "createdAt": iso(principal.created_at),
                "credentialKind": platform.CREDENTIAL_KIND,
                "subject": principal.subject,
                "expiresAt": iso(principal.expires_at) if principal.expires_at else None,
            }
        )
    )


@router.post("/organizations")
def ensure_organization(
    body: OrganizationIn, principal: EnsureOrganizations, session: WriteSession
) -> Response:
    found = organizations.ensure_organization(session, body.externalId, body.name)
    return json_response(organization_out(found))


@router.get("/organizations/{orgId}")
def get_organization(orgId: str, principal: ReadOrganizations, session: ReadSession) -> Response:
    return json_response(organization_out(_organization(session, orgId)))


@router.delete("/organizations/{orgId}", status_code=204)
def delete_organization(
    orgId: str, principal: DeleteOrganizations, session: WriteSession
) -> Response:
    organizations.delete_organization(session, _organization(session, orgId).id)
    return Response(status_code=204)


@router.delete("/organizations/{orgId}/memberships/{userId}", status_code=204)
def delete_membership(
    orgId: str, userId: str, principal: DeleteMemberships, session: WriteSession
) -> Response:
    organization = _organization(session, orgId)
    organizations.delete_membership(session, organization.id, id_of(userId, "user", "user"))
    return Response(status_code=204)


@router.post("/organizations/{orgId}/tokens", status_code=201)
def mint_token(orgId: str, body: MintIn, principal: WriteTokens, session: WriteSession) -> Response:
    organization = _organization(session, orgId)
    token, plaintext = platform.mint_token(session, principal, organization, body.terms())
    return json_response(token_out(token, plaintext), 201)


@router.get("/organizations/{orgId}/tokens")
def list_tokens(orgId: str, principal: ReadTokens, session: ReadSession) -> Response:
    organization = _organization(session, orgId)
    return json_response(
        [token_out(t) for t in platform.list_tokens(session, principal, organization)]
    )


@router.delete("/organizations/{orgId}/tokens/{tokenSlug}", status_code=204)
def revoke_token(
    orgId: str, tokenSlug: str, principal: WriteTokens, session: WriteSession
) -> Response:
    organization = _organization(session, orgId)
    platform.revoke_token(session, principal, organization, tokenSlug)
    return Response(status_code=204)


@router.delete("/users/{id}", status_code=204)
def delete_user(
    user_id: Annotated[str, Path(alias="id")], principal: DeleteUsers, session: WriteSession
) -> Response:
    organizations.delete_user(session, id_of(user_id, "user", "user"))
    return Response(status_code=204)


@router.post("/connectors")
def register_connector(
    body: ConnectorIn, principal: EnsureOrganizations, session: WriteSession
) -> Response:
    """An upsert on ``name``: the connector's host registers it on every start."""
    return json_response(connector_out(connectors.register_connector(session, body.registration())))
