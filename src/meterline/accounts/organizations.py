"""Organizations and users as the Platform API administers them.

A Kaiten organization is a Meterline organization with an ``external_id`` (the identity
provider's id). Its id is derived from that id (a UUID v5 taken as the ULID of the stored
``tenant_...`` id), so ensuring it twice, from any process, converges on one row.

Deleting an organization is refused (409) while any environment of it holds a row of any
other domain (customers, licenses, plans, events, invoices...): billing and licensing
history is never deleted as a side effect. Only its accounts rows go with it: keys and
tokens, service accounts, dashboard sessions, users, environments.

A Meterline user belongs to exactly one organization, so removing a user's membership and
deleting the user both soft-delete the row (``deleted_at``: what it created keeps its
attribution) and revoke the keys that act as it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from ulid import ULID

from meterline.accounts import repository
from meterline.accounts.models import (
    ApiKey,
    Environment,
    Organization,
    User,
)
from meterline.accounts.service import account_of
from meterline.db import models
from meterline.db.base import utcnow
from meterline.kernel.errors import Conflict, NotFound
from meterline.licensing.common import flush_unique

# The namespace of the UUID v5 an organization's id is derived from.
ORGANIZATION_NAMESPACE = uuid.UUID("6d2c3f0e-5b7a-4f59-9a43-2f1b9c0e7d11")
# Tables of the accounts domain, which go with their organization.
ACCOUNT_TABLES = frozenset(
    {"api_keys", "service_accounts", "ui_sessions", "environments", "users", "organizations"}
)


def organization_id_for(external_id: str) -> str:
    """The stored id of the organization of ``external_id``: the same in every process."""
    return f"tenant_{ULID.from_uuid(uuid.uuid5(ORGANIZATION_NAMESPACE, external_id))}"


def ensure_organization(session: Session, external_id: str, name: str | None) -> Organization:
    """The organization of ``external_id`` with its environments, created named ``name``
    (or its external id) when missing; an existing one is never renamed."""
    organization_id = organization_id_for(external_id)
    found = session.get(Organization, organization_id)
    if found is None:
        repository.lock_account_setup(session)
        found = session.get(Organization, organization_id)
    if found is None:
        found = Organization(id=organization_id, name=name or external_id, external_id=external_id)
        session.add(found)
        flush_unique(session, "the organization")
    account_of(session, found)
    return found


def get_organization(session: Session, organization_id: str) -> Organization:
    found = session.get(Organization, organization_id)
    if found is None:
        raise NotFound("organization", organization_id)
    return found


def _in_use(session: Session, environment_ids: list[str]) -> str | None:
    """The first table outside the accounts domain with a row of these environments."""
    for table in models.Base.metadata.sorted_tables:
        column = table.c.get("environment_id")
        if column is None or table.name in ACCOUNT_TABLES:
            continue
        if session.scalar(select(exists().where(column.in_(environment_ids)))):
            return table.name
    return None


def delete_organization(session: Session, organization_id: str) -> None:
    """Delete an organization and its accounts rows; 409 while it holds any other data."""
    found = get_organization(session, organization_id)
    if found.is_default:
        raise Conflict("The default organization cannot be deleted", reason="in_use")
    environment_ids = list(
        session.scalars(select(Environment.id).where(Environment.organization_id == found.id))
    )
    if environment_ids and _in_use(session, environment_ids) is not None:
        raise Conflict(
            "The organization still holds billing or licensing data; delete it first",
            reason="in_use",
        )
    repository.delete_organization_rows(session, found.id, environment_ids)
    session.flush()


def _delete_user(session: Session, user: User) -> None:
    user.deleted_at = utcnow()
    repository.archive_keys(session, ApiKey.user_id == user.id)
    session.flush()


def _live_user(session: Session, user_id: str) -> User:
    found = session.get(User, user_id)
    if found is None or found.deleted_at is not None:
        raise NotFound("user", user_id)
    return found


def delete_membership(session: Session, organization_id: str, user_id: str) -> None:
    """Remove the user from the organization (404 when it is not one of its members)."""
    organization = get_organization(session, organization_id)
    found = _live_user(session, user_id)
    if found.organization_id != organization.id:
        raise NotFound("membership", user_id)
    _delete_user(session, found)


def delete_user(session: Session, user_id: str) -> None:
    _delete_user(session, _live_user(session, user_id))
