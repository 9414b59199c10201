"""/v1 users, service accounts and roles (the SDK's ``users`` and ``rbac``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field
from sqlalchemy.orm import Session

from meterline.accounts import users
from meterline.accounts.models import Organization, User
from meterline.accounts.roles import ROLES, Role
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import WireModel, list_envelope
from meterline.api.flexprice.filters import FilterQuery
from meterline.api.json import iso, json_response
from meterline.kernel.errors import NotFound

router = APIRouter(tags=["users"])

RoleName = str


class UserIn(WireModel):
    type: Literal["user", "service_account"]
    email: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    roles: list[RoleName] | None = Field(default=None, max_length=len(ROLES))


class MeUpdate(WireModel):
    name: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class ServiceAccountUpdate(WireModel):
    name: str = Field(max_length=255)


class RolesIn(WireModel):
    roles: list[RoleName] | None = Field(default=None, max_length=len(ROLES))


class UserSearch(FilterQuery):
    # An organization's users are few: listed newest first, filtered by these fields only.
    UNSUPPORTED = ("filters", "sort", "order", "expand", "start_time", "end_time")
    type: Literal["user", "service_account"] | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=len(ROLES))
    user_ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["published", "deleted", "archived"] | None = None


def user_out(user: User, org: Organization | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "type": user.type,
        "roles": list(user.roles or ()),
        "metadata": dict(user.metadata_ or {}),
    }
    if org is not None:
        out["tenant"] = {"id": org.id, "name": org.name, "created_at": iso(org.created_at)}
    return out


def role_out(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "permissions": list(role.scopes),
        "user_types": list(role.user_types),
    }


def _org(session: Session, user: User) -> Organization | None:
    return session.get(Organization, user.organization_id)


@router.post("/users", status_code=201)
def create_user(body: UserIn, principal: Vendor, session: WriteSession) -> Response:
    made = users.create_user(
        session, principal, body.type, email=body.email, name=body.name, roles=body.roles
    )
    out = user_out(made.user, _org(session, made.user))
    if made.password is not None:
        out["password"] = made.password  # shown once: only its Argon2id hash is kept
    return json_response(out, 201)


@router.post("/users/search")
def search_users(body: UserSearch, principal: VendorRead, session: ReadSession) -> Response:
    found, total = users.search_users(
        session,
        principal,
        limit=body.limit,
        offset=body.offset,
        user_type=body.type,
        roles=body.roles,
        user_ids=body.user_ids,
        deleted=body.status in ("deleted", "archived"),
    )
    items = [user_out(u, None) for u in found]
    return json_response(list_envelope(items, total, body.limit, body.offset))


@router.put("/users/me")
def update_me(body: MeUpdate, principal: Vendor, session: WriteSession) -> Response:
    user = users.update_me(session, principal, name=body.name, metadata=body.metadata)
    return json_response(user_out(user, _org(session, user)))


@router.put("/users/{user_id}")
def update_service_account(
    user_id: str, body: ServiceAccountUpdate, principal: Vendor, session: WriteSession
) -> Response:
    account = users.update_service_account(session, principal, user_id, body.name)
    return json_response(user_out(account, _org(session, account)))


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
def delete_service_account(user_id: str, principal: Vendor, session: WriteSession) -> Response:
    users.delete_service_account(session, principal, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/remove", status_code=204, response_class=Response)
def remove_user(user_id: str, principal: Vendor, session: WriteSession) -> Response:
    users.remove_user(session, principal, user_id)
    return Response(status_code=204)


@router.put("/users/{user_id}/roles")
def update_user_roles(
    user_id: str, body: RolesIn, principal: Vendor, session: WriteSession
) -> Response:
    user = users.update_user_roles(session, principal, user_id, body.roles)
    return json_response(user_out(user, _org(session, user)))


@router.get("/rbac/roles")
def list_roles(
    principal: Vendor, user_type: Literal["user", "service_account"] | None = None
) -> Response:
    chosen = [r for r in ROLES.values() if user_type is None or user_type in r.user_types]
    return json_response({"items": [role_out(r) for r in chosen], "total": len(chosen)})


@router.get("/rbac/roles/{role_id}")
def get_role(role_id: str, principal: Vendor) -> Response:
    role = ROLES.get(role_id)
    if role is None:
        raise NotFound("role", role_id)
    return json_response(role_out(role))
