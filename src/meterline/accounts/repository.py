"""Queries of the accounts domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from meterline.accounts.models import (
    ApiKey,
    Environment,
    Organization,
    ServiceAccount,
    SignInFailure,
    TenantProfile,
    UiSession,
    User,
)
from meterline.db.dialect import dialect_of
from meterline.db.search import page


def lock_account_setup(session: Session) -> None:
    """Serialize setting up organizations and bootstrap keys across processes until the
    transaction ends (PostgreSQL; a SQLite write transaction already holds the database):
    two workers starting at once must not both create the default organization or both
    insert the bootstrap key."""
    dialect_of(session).advisory_lock(session, "meterline:accounts")


def default_organization(session: Session) -> Organization | None:
    return session.scalars(
        select(Organization).where(Organization.is_default.is_(True)).limit(1)
    ).first()


def organization_by_name(session: Session, name: str) -> Organization | None:
    return session.scalars(
        select(Organization)
        .where(Organization.name == name, Organization.is_default.is_(False))
        .order_by(Organization.created_at)
        .limit(1)
    ).first()


def environment_by_type(
    session: Session, organization_id: str, env_type: str
) -> Environment | None:
    return session.scalars(
        select(Environment)
        .where(Environment.organization_id == organization_id, Environment.type == env_type)
        .order_by(Environment.created_at)
        .limit(1)
    ).first()


def environments_of(session: Session, organization_id: str) -> Sequence[Environment]:
    return session.scalars(
        select(Environment)
        .where(Environment.organization_id == organization_id)
        .order_by(Environment.created_at, Environment.id)
    ).all()


def environment(session: Session, organization_id: str, env_id: str) -> Environment | None:
    return session.scalars(
        select(Environment).where(
            Environment.organization_id == organization_id, Environment.id == env_id
        )
    ).first()


def first_user(session: Session, organization_id: str) -> User | None:
    return session.scalars(
        select(User)
        .where(User.organization_id == organization_id, User.deleted_at.is_(None))
        .order_by(User.created_at)
    ).first()


def key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()


def keys_of_environment(
    session: Session,
    environment_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
) -> tuple[list[ApiKey], int]:
    """One page of the environment's keys in ``status`` (live keys by default), newest first,
    and their count."""
    stmt = (
        select(ApiKey)
        .where(ApiKey.environment_id == environment_id, ApiKey.status == (status or "published"))
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    )
    return page(session, stmt, limit, offset)


def key_in_environment(session: Session, environment_id: str, key_id: str) -> ApiKey | None:
    return session.scalars(
        select(ApiKey).where(ApiKey.environment_id == environment_id, ApiKey.id == key_id)
    ).first()


_keys = ApiKey.__table__.c
_CREDENTIALS = select(
    _keys.id,
    _keys.organization_id,
    _keys.environment_id,
    _keys.user_id,
    _keys.customer_external_id,
    _keys.scopes,
    _keys.status,
    _keys.expires_at,
    _keys.key_hash,
).where(_keys.key_hash == bindparam("digest"))


def credentials_by_hash(conn: Connection, key_hash: str) -> Row[Any] | None:
    """What authentication needs of a key, as one Core row (no ORM: this runs per request)."""
    row: Row[Any] | None = conn.execute(_CREDENTIALS, {"digest": key_hash}).first()  # type: ignore[assignment]
    return row


# --- writes around whole sets of keys ------------------------------------------------------


def archive_keys(session: Session, *where: Any) -> int:
    """Archive the published keys matching ``where`` (the keys a platform credential minted,
    or that act as a user); how many."""
    result = session.execute(
        update(ApiKey).where(ApiKey.status == "published", *where).values(status="archived")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_organization_rows(
    session: Session, organization_id: str, environment_ids: Sequence[str]
) -> None:
    """An organization's own rows: its sessions, keys, service accounts, users,
    environments and itself (the caller has checked it holds nothing else)."""
    if environment_ids:
        session.execute(delete(UiSession).where(UiSession.environment_id.in_(environment_ids)))
    session.execute(delete(ApiKey).where(ApiKey.organization_id == organization_id))
    if environment_ids:
        session.execute(
            delete(ServiceAccount).where(ServiceAccount.environment_id.in_(environment_ids))
        )
    session.execute(delete(User).where(User.organization_id == organization_id))
    session.execute(delete(TenantProfile).where(TenantProfile.organization_id == organization_id))
    session.execute(delete(Environment).where(Environment.organization_id == organization_id))
    session.execute(delete(Organization).where(Organization.id == organization_id))


def user_in_organization(session: Session, organization_id: str, user_id: str) -> User | None:
    """A user (person or service account) of the organization that is not deleted."""
    return session.scalars(
        select(User).where(
            User.organization_id == organization_id,
            User.id == user_id,
            User.deleted_at.is_(None),
        )
    ).first()


def user_by_email(session: Session, organization_id: str, email: str) -> User | None:
    return session.scalars(
        select(User).where(
            User.organization_id == organization_id,
            func.lower(User.email) == email.lower(),
            User.deleted_at.is_(None),
        )
    ).first()


def users_of(
    session: Session,
    organization_id: str,
    *,
    user_type: str | None = None,
    user_ids: Sequence[str] | None = None,
    deleted: bool = False,
) -> list[User]:
    """The organization's users, newest first (an organization has people and service
    accounts by the dozen, not by the million: the caller filters roles and pages)."""
    where: list[Any] = [
        User.organization_id == organization_id,
        User.deleted_at.is_not(None) if deleted else User.deleted_at.is_(None),
    ]
    if user_type is not None:
        where.append(User.type == user_type)
    if user_ids is not None:
        where.append(User.id.in_(list(user_ids)))
    return list(
        session.scalars(select(User).where(*where).order_by(User.created_at.desc(), User.id.desc()))
    )


def keys_of_user(session: Session, user_id: str) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.status == "published")
        )
    )


# --- the seller's profile -------------------------------------------------------------------


def tenant_profile(session: Session, organization_id: str) -> TenantProfile | None:
    return session.get(TenantProfile, organization_id)


# --- dashboard sessions and sign-in throttling ----------------------------------------------


def ui_session(session: Session, token_hash: str) -> UiSession | None:
    return session.get(UiSession, token_hash)


def delete_ui_sessions(session: Session, *where: Any) -> int:
    result = session.execute(delete(UiSession).where(*where))
    return int(result.rowcount)  # type: ignore[attr-defined]


def ui_sessions_of_user(
    session: Session, user_id: str, now: datetime, limit: int
) -> list[UiSession]:
    """The user's live sessions, newest first."""
    return list(
        session.scalars(
            select(UiSession)
            .where(UiSession.user_id == user_id, UiSession.expires_at > now)
            .order_by(UiSession.created_at.desc())
            .limit(limit)
        )
    )


def users_by_email(session: Session, email: str, limit: int) -> list[User]:
    """Live people with this email in any organization (an email may belong to several)."""
    return list(
        session.scalars(
            select(User)
            .where(
                func.lower(User.email) == email.lower(),
                User.type == "user",
                User.deleted_at.is_(None),
            )
            .order_by(User.created_at)
            .limit(limit)
        )
    )


def count_sign_in_failures(session: Session, since: datetime, *where: Any) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(SignInFailure).where(SignInFailure.at > since, *where)
        )
        or 0
    )


def add_sign_in_failure(session: Session, email: str | None, address: str, at: datetime) -> None:
    session.add(SignInFailure(email=email, client_address=address, at=at))


def delete_sign_in_failures(session: Session, *where: Any) -> None:
    session.execute(delete(SignInFailure).where(*where))
