"""/v1 environments, users and API keys."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field

from meterline.accounts import service as accounts
from meterline.accounts import users
from meterline.accounts.models import ApiKey, Environment
from meterline.api.deps import AnyCaller, ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import Page, WireModel, list_envelope
from meterline.api.json import iso, json_response
from meterline.kernel.instants import OptionalInstant

router = APIRouter(tags=["accounts"])


class EnvironmentIn(WireModel):
    name: str = Field(min_length=1, max_length=255)
    type: Literal["development", "production"]


class EnvironmentUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    type: Literal["development", "production"] | None = None


class ApiKeyIn(WireModel):
    name: str = Field(default="api key", min_length=1, max_length=255)
    type: Literal["private_key", "publishable_key"] = "private_key"
    expires_at: OptionalInstant = None
    customer_external_id: str | None = Field(default=None, max_length=255)
    scopes: list[str] | None = Field(default=None, max_length=50)
    # An extension: a key with full rights may mint keys for another environment of its
    # organization (the SDK has no X-Environment-ID, so keys are how environments are chosen).
    environment_id: str | None = Field(default=None, max_length=64)
    # The service account (a user of type service_account) the key acts for; without it,
    # the caller's own user. The key holds at most that user's roles' scopes.
    service_account_id: str | None = Field(default=None, max_length=64)


def environment_out(env: Environment) -> dict[str, Any]:
    return {
        "id": env.id,
        "name": env.name,
        "type": env.type,
        "tenant_id": env.organization_id,
        "status": env.status,
        "created_at": iso(env.created_at),
        "updated_at": iso(env.updated_at),
    }


def secret_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "type": key.type,
        "provider": "flexprice",
        "display_id": key.display_id,
        "environment_id": key.environment_id,
        "tenant_id": key.organization_id,
        "customer_external_id": key.customer_external_id,
        "permissions": list(key.scopes or []),
        "expires_at": iso(key.expires_at),
        "status": key.status,
        "created_at": iso(key.created_at),
        "updated_at": iso(key.updated_at),
    }


@router.post("/environments", status_code=201)
def create_environment(body: EnvironmentIn, principal: Vendor, session: WriteSession) -> Any:
    env = accounts.create_environment(session, principal, body.name, body.type)
    return json_response(environment_out(env), 201)


@router.get("/environments")
def list_environments(principal: Vendor, session: ReadSession) -> Any:
    envs = accounts.list_environments(session, principal)
    return {
        "environments": [environment_out(e) for e in envs],
        "total": len(envs),
        "offset": 0,
        "limit": len(envs),
    }


@router.get("/environments/{env_id}")
def get_environment(env_id: str, principal: Vendor, session: ReadSession) -> Any:
    return environment_out(accounts.get_environment(session, principal, env_id))


@router.put("/environments/{env_id}")
def update_environment(
    env_id: str, body: EnvironmentUpdate, principal: Vendor, session: WriteSession
) -> Any:
    env = accounts.update_environment(session, principal, env_id, body.name, body.type)
    return environment_out(env)


@router.get("/users/me")
def me(principal: AnyCaller, session: ReadSession) -> Any:
    user, org = accounts.current_user(session, principal)
    return {
        "id": user.id if user else principal.key_id,
        "name": user.name if user else "api key",
        "email": user.email if user else None,
        "type": user.type if user else "service_account",
        "roles": list(user.roles or ()) if user else [],
        "metadata": dict(user.metadata_ or {}) if user else {},
        "tenant": {"id": org.id, "name": org.name, "created_at": iso(org.created_at)},
        "environment_id": principal.environment_id,
    }


@router.post("/secrets/api/keys", status_code=201)
def create_api_key(body: ApiKeyIn, principal: Vendor, session: WriteSession) -> Any:
    environment_id = principal.environment_id
    if body.environment_id and body.environment_id != principal.environment_id:
        environment_id = accounts.get_environment(session, principal, body.environment_id).id
    user_id, scopes = users.key_scopes(session, principal, body.service_account_id, body.scopes)
    api_key, plaintext = accounts.create_api_key(
        session,
        organization_id=principal.organization_id,
        environment_id=environment_id,
        user_id=user_id,
        name=body.name,
        key_type=body.type,
        customer_external_id=body.customer_external_id,
        scopes=scopes,
        expires_at=body.expires_at,
        creator=principal,
    )
    return json_response({"secret": secret_out(api_key), "api_key": plaintext}, 201)


@router.get("/secrets/api/keys")
def list_api_keys(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    status: Literal["published", "archived"] | None = None,
) -> Any:
    keys, total = accounts.list_api_keys(
        session, principal, limit=page.limit, offset=page.offset, status=status
    )
    return list_envelope([secret_out(k) for k in keys], total, page.limit, page.offset)


@router.delete("/secrets/api/keys/{key_id}", status_code=204, response_class=Response)
def delete_api_key(key_id: str, principal: Vendor, session: WriteSession) -> Response:
    accounts.revoke_api_key(session, principal, key_id)
    return Response(status_code=204)
