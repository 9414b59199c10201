"""Accounts: the default organization, environments and API keys.

Keys are 256-bit random strings shown once. Only their SHA-256 is stored: a key has far
more entropy than a password, so a fast hash is safe, and lookup by hash is one indexed read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from meterline.accounts import repository
from meterline.accounts.models import ApiKey, Environment, Organization, User
from meterline.accounts.principal import FULL_ACCESS, Principal
from meterline.db.base import UTCDateTime, utcnow
from meterline.kernel.errors import InvalidRequest, NotFound, PermissionDenied, Unauthenticated

ENVIRONMENT_TYPES = ("development", "production")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key(prefix: str = "sk") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def display_id(key: str) -> str:
    return f"{key[:5]}***{key[-2:]}"


@dataclass(frozen=True)
class DefaultAccount:
    organization: Organization
    environment: Environment
    user: User


def ensure_default_account(session: Session) -> DefaultAccount:
    """The default organization with its two environments and an admin user."""
    repository.lock_account_setup(session)
    org = repository.default_organization(session)
    if org is None:
        org = Organization(name="Default organization", is_default=True)
        session.add(org)
        session.flush()
    return _ensure_account(session, org)


def ensure_organization(session: Session, name: str) -> DefaultAccount:
    """A separate organization named ``name`` (created on first use) with its two
    environments and an admin user: a tenant that shares nothing with the default one."""
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidRequest("organization name must be 1 to 255 characters", field="name")
    repository.lock_account_setup(session)
    org = repository.organization_by_name(session, name)
    if org is None:
        org = Organization(name=name, is_default=False)
        session.add(org)
        session.flush()
    return _ensure_account(session, org)


def account_of(session: Session, org: Organization) -> DefaultAccount:
    """``org`` with its two environments and an admin user, created where missing; its
    production environment is its default one."""
    return _ensure_account(session, org)


def _ensure_account(session: Session, org: Organization) -> DefaultAccount:
    for env_type in ENVIRONMENT_TYPES:
        if repository.environment_by_type(session, org.id, env_type) is None:
            session.add(Environment(organization_id=org.id, name=env_type.title(), type=env_type))
    user = repository.first_user(session, org.id)
    if user is None:
        user = User(organization_id=org.id, name="Admin", email=None, type="user")
        session.add(user)
    session.flush()
    production = repository.environment_by_type(session, org.id, "production")
    assert production is not None
    return DefaultAccount(organization=org, environment=production, user=user)


def ensure_bootstrap_key(session: Session, key: str) -> ApiKey:
    """Accept ``key`` with every right in the default production environment."""
    if len(key) < 8:
        raise InvalidRequest("METERLINE_BOOTSTRAP_KEY must be at least 8 characters")
    repository.lock_account_setup(session)  # every worker of a fresh start runs this at once
    existing = repository.key_by_hash(session, hash_key(key))
    if existing is not None:
        if existing.status != "published":
            existing.status = "published"
        return existing
    account = ensure_default_account(session)
    api_key = ApiKey(
        organization_id=account.organization.id,
        environment_id=account.environment.id,
        user_id=account.user.id,
        name="bootstrap",
        key_hash=hash_key(key),
        display_id=display_id(key),
        scopes=[FULL_ACCESS],
    )
    session.add(api_key)
    session.flush()
    return api_key


def create_api_key(
    session: Session,
    *,
    organization_id: str,
    environment_id: str,
    user_id: str | None,
    name: str,
    key_type: str = "private_key",
    customer_external_id: str | None = None,
    scopes: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    creator: Principal | None = None,
) -> tuple[ApiKey, str]:
    """Mint a key. Returns the row and the plaintext, which is never stored."""
    if creator is not None:
        refused = creator.ungrantable(scopes)
        if refused is not None:
            raise PermissionDenied(f"This key cannot grant the scope {refused}")
        _require_reach(creator, environment_id, "mint keys for")
    prefix = "pk" if key_type == "publishable_key" else "sk"
    plaintext = generate_key(prefix)
    api_key = ApiKey(
        organization_id=organization_id,
        environment_id=environment_id,
        user_id=user_id,
        name=name,
        type=key_type,
        key_hash=hash_key(plaintext),
        display_id=display_id(plaintext),
        customer_external_id=customer_external_id,
        scopes=list(scopes) if scopes is not None else [FULL_ACCESS],
        expires_at=expires_at,
    )
    session.add(api_key)
    session.flush()
    return api_key, plaintext


def _require_reach(principal: Principal, environment_id: str, action: str) -> None:
    if not principal.reaches(environment_id):
        raise PermissionDenied(f"Only a key with full access may {action} another environment")


def authenticate(conn: Connection | Session, key: str | None) -> Principal:
    """Resolve a presented key to its principal, or raise ``Unauthenticated``."""
    if isinstance(conn, Session):
        conn = conn.connection()
    if not key:
        raise Unauthenticated("An API key is required")
    return authenticate_digest(conn, hash_key(key))


def authenticate_digest(conn: Connection | Session, digest: str) -> Principal:
    """Resolve a key by its SHA-256 digest (sessions of the dashboard keep only that)."""
    principal, expires_at = credentials(conn, digest)
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthenticated("API key has expired")
    return principal


def credentials(conn: Connection | Session, digest: str) -> tuple[Principal, datetime | None]:
    """A published key's principal and expiry (not checked here), or ``Unauthenticated``."""
    if isinstance(conn, Session):
        conn = conn.connection()
    row = repository.credentials_by_hash(conn, digest)
    # Compare in constant time although the lookup was by hash: the row is found by an
    # index, but the final check never short-circuits on a prefix.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthenticated("Invalid API key")
    if row.status != "published":
        raise Unauthenticated("API key has been revoked")
    expires_at = UTCDateTime().process_result_value(row.expires_at, conn.dialect)
    scopes = row.scopes
    if isinstance(scopes, str):
        scopes = json.loads(scopes)
    principal = Principal(
        organization_id=row.organization_id,
        environment_id=row.environment_id,
        key_id=row.id,
        user_id=row.user_id,
        customer_external_id=row.customer_external_id,
        scopes=frozenset(scopes or ()),
    )
    return principal, expires_at


def list_api_keys(
    session: Session, principal: Principal, *, limit: int, offset: int, status: str | None = None
) -> tuple[list[ApiKey], int]:
    return repository.keys_of_environment(
        session, principal.environment_id, limit=limit, offset=offset, status=status
    )


def revoke_api_key(session: Session, principal: Principal, key_id: str) -> None:
    api_key = repository.key_in_environment(session, principal.environment_id, key_id)
    if api_key is None or api_key.status != "published":
        raise NotFound("secret", key_id)
    refused = principal.ungrantable(api_key.scopes)
    if refused is not None:
        raise PermissionDenied(
            f"This key cannot revoke a key with the scope {refused}: a key revokes only "
            "keys it could have minted"
        )
    api_key.status = "archived"
    session.flush()


def create_environment(
    session: Session, principal: Principal, name: str, env_type: str
) -> Environment:
    if not principal.has_full_access:
        raise PermissionDenied("Only a key with full access may create an environment")
    if env_type not in ENVIRONMENT_TYPES:
        raise InvalidRequest(
            "type must be development or production",
            field="type",
            details={"allowed_values": list(ENVIRONMENT_TYPES), "provided_value": env_type},
        )
    env = Environment(organization_id=principal.organization_id, name=name, type=env_type)
    session.add(env)
    session.flush()
    return env


def get_environment(session: Session, principal: Principal, env_id: str) -> Environment:
    env = repository.environment(session, principal.organization_id, env_id)
    if env is None:
        raise NotFound("environment", env_id)
    return env


def list_environments(session: Session, principal: Principal) -> Sequence[Environment]:
    return repository.environments_of(session, principal.organization_id)


def update_environment(
    session: Session, principal: Principal, env_id: str, name: str | None, env_type: str | None
) -> Environment:
    _require_reach(principal, env_id, "change")
    env = get_environment(session, principal, env_id)
    if name is not None:
        env.name = name
    if env_type is not None:
        if env_type not in ENVIRONMENT_TYPES:
            raise InvalidRequest("type must be development or production", field="type")
        env.type = env_type
    session.flush()
    return env


def current_user(session: Session, principal: Principal) -> tuple[User | None, Organization]:
    org = session.get(Organization, principal.organization_id)
    assert org is not None
    user = session.get(User, principal.user_id) if principal.user_id else None
    return user, org
