"""People and service accounts of an organization, and their roles.

A person signs in to the dashboard with email and password (Argon2id,
accounts/passwords.py); a service account acts only through API keys. Every user holds
roles (accounts/roles.py); a key of a user holds at most its roles' scopes, so a role is
enforced wherever a scope is. The rules:

* a caller grants (or takes away) only roles whose scopes it holds itself;
* the organization keeps at least one owner;
* a change of roles re-bounds the user's keys in the same transaction (a key holding a
  scope the new roles lack gets exactly the new roles' scopes);
* removing a user or deleting a service account revokes its keys; the row stays, so what
  it made keeps its attribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts import passwords, repository
from meterline.accounts.models import ApiKey, User
from meterline.accounts.principal import Principal
from meterline.accounts.roles import ROLES, holder, scopes_of
from meterline.db.base import utcnow
from meterline.kernel.errors import InvalidOperation, InvalidRequest, NotFound, PermissionDenied

USER_TYPES = ("user", "service_account")
DEFAULT_ROLES = ("read_only",)  # least privilege when none is named
MAX_ROLES = len(ROLES)


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str | None  # a person's first password, shown once


def _roles(values: Sequence[str] | None, user_type: str) -> list[str]:
    chosen = list(dict.fromkeys(values)) if values else list(DEFAULT_ROLES)
    for role in chosen:
        if role not in ROLES:
            raise InvalidRequest(
                f"unknown role {role!r}",
                field="roles",
                details={"allowed_values": list(ROLES), "provided_value": role},
            )
        if user_type not in ROLES[role].user_types:
            raise InvalidRequest(f"a {user_type} cannot hold the role {role}", field="roles")
    return chosen


def _may_grant(principal: Principal, roles: Sequence[str]) -> None:
    refused = principal.ungrantable(scopes_of(roles))
    if refused is not None:
        raise PermissionDenied(
            f"This key cannot grant the roles {', '.join(roles)}: they hold {refused}, "
            "which it does not"
        )


def get_user(session: Session, principal: Principal, user_id: str) -> User:
    found = repository.user_in_organization(session, principal.organization_id, user_id)
    if found is None:
        raise NotFound("user", user_id)
    return found


def create_user(
    session: Session,
    principal: Principal,
    user_type: str,
    *,
    email: str | None,
    name: str | None,
    roles: Sequence[str] | None,
) -> NewUser:
    if user_type not in USER_TYPES:
        raise InvalidRequest(
            "type must be user or service_account",
            field="type",
            details={"allowed_values": list(USER_TYPES), "provided_value": user_type},
        )
    chosen = _roles(roles, user_type)
    _may_grant(principal, chosen)
    password: str | None = None
    if user_type == "user":
        address = (email or "").strip()
        if "@" not in address.strip("@"):
            raise InvalidRequest("a user needs an email address", field="email")
        if repository.user_by_email(session, principal.organization_id, address):
            raise InvalidRequest("a user with this email already exists", field="email")
        display = (name or "").strip() or address.split("@")[0]
        password = passwords.generate()
        user = User(
            organization_id=principal.organization_id,
            name=display,
            email=address,
            type="user",
            roles=chosen,
            password_hash=passwords.hash_password(password),
        )
    else:
        if email:
            raise InvalidRequest("a service account has no email", field="email")
        if not (name or "").strip():
            raise InvalidRequest("a service account needs a name", field="name")
        user = User(
            organization_id=principal.organization_id,
            name=(name or "").strip(),
            type="service_account",
            roles=chosen,
        )
    session.add(user)
    session.flush()
    return NewUser(user, password)


def search_users(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    user_type: str | None = None,
    roles: Sequence[str] | None = None,
    user_ids: Sequence[str] | None = None,
    deleted: bool = False,
) -> tuple[list[User], int]:
    found = repository.users_of(
        session,
        principal.organization_id,
        user_type=user_type,
        user_ids=user_ids,
        deleted=deleted,
    )
    if roles:
        wanted = set(roles)
        found = [u for u in found if wanted & set(u.roles or ())]
    return found[offset : offset + limit], len(found)


def update_me(
    session: Session, principal: Principal, *, name: str | None, metadata: dict[str, str] | None
) -> User:
    if principal.user_id is None:
        raise InvalidOperation("This key acts for no user")
    user = get_user(session, principal, principal.user_id)
    if name is not None:
        if not name.strip():
            raise InvalidRequest("name cannot be empty", field="name")
        user.name = name.strip()
    if metadata is not None:
        user.metadata_ = dict(metadata)
    session.flush()
    return user


def _service_account(session: Session, principal: Principal, user_id: str) -> User:
    found = get_user(session, principal, user_id)
    if found.type != "service_account":
        raise NotFound("service account", user_id)
    return found


def update_service_account(session: Session, principal: Principal, user_id: str, name: str) -> User:
    account = _service_account(session, principal, user_id)
    _may_grant(principal, account.roles)
    if not name.strip():
        raise InvalidRequest("name cannot be empty", field="name")
    account.name = name.strip()
    session.flush()
    return account


def _retire(session: Session, principal: Principal, user: User) -> None:
    _may_grant(principal, user.roles)
    if user.id == principal.user_id:
        raise InvalidOperation("A key cannot remove the user it acts for")
    _keep_an_owner(session, principal, user, [])
    user.deleted_at = utcnow()
    repository.archive_keys(session, ApiKey.user_id == user.id)
    session.flush()


def delete_service_account(session: Session, principal: Principal, user_id: str) -> None:
    _retire(session, principal, _service_account(session, principal, user_id))


def remove_user(session: Session, principal: Principal, user_id: str) -> None:
    """Removes a person from the organization (a service account is deleted instead)."""
    user = get_user(session, principal, user_id)
    if user.type != "user":
        raise InvalidRequest("a service account is deleted with DELETE /users/{id}")
    _retire(session, principal, user)


def _keep_an_owner(session: Session, principal: Principal, user: User, roles: list[str]) -> None:
    if "owner" not in (user.roles or ()) or "owner" in roles:
        return
    owners = [
        u
        for u in repository.users_of(session, principal.organization_id, user_type="user")
        if "owner" in (u.roles or ()) and u.id != user.id
    ]
    if not owners:
        raise InvalidOperation("The organization must keep at least one owner")


def update_user_roles(
    session: Session, principal: Principal, user_id: str, roles: Sequence[str] | None
) -> User:
    """Replaces the user's roles (none given: the default, read-only)."""
    user = get_user(session, principal, user_id)
    chosen = _roles(roles, user.type)
    _may_grant(principal, list(user.roles or ()) + chosen)
    _keep_an_owner(session, principal, user, chosen)
    user.roles = chosen
    bound = holder(principal, chosen)
    for key in repository.keys_of_user(session, user.id):
        if bound.ungrantable(key.scopes) is not None:
            key.scopes = scopes_of(chosen)
    session.flush()
    return user


def key_scopes(
    session: Session, principal: Principal, user_id: str | None, requested: Sequence[str] | None
) -> tuple[str | None, list[str] | None]:
    """The user a new key acts for and its scopes: a key holds at most its user's roles'
    scopes (none requested: exactly those). ``user_id`` None: the caller's own user."""
    target_id = user_id or principal.user_id
    if target_id is None:
        return None, None if requested is None else list(requested)
    user = get_user(session, principal, target_id)
    if user_id is not None and user.type != "service_account":
        raise InvalidRequest(
            "service_account_id names no service account", field="service_account_id"
        )
    if requested is None:
        return user.id, scopes_of(user.roles or ())
    refused = holder(principal, user.roles or ()).ungrantable(requested)
    if refused is not None:
        raise PermissionDenied(f"The key's user does not hold the scope {refused}")
    return user.id, list(requested)
