"""Keys as the operator of the deployment sees them (``meterline keys list|revoke``): every
key of an organization's environments, with no API key to present. The HTTP surfaces do
the same per environment, for the key that calls them (``service.list_api_keys``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts import repository
from meterline.accounts.models import ApiKey, Environment, Organization
from meterline.kernel.errors import NotFound

# Keys listed per environment and status: an operator's list, not an export.
MAX_KEYS = 1000


@dataclass(frozen=True)
class KeyRow:
    key: ApiKey
    environment: Environment


def organization(session: Session, name: str | None) -> Organization | None:
    """The default organization, or the one named ``name``; None when it does not exist."""
    if name is None:
        return repository.default_organization(session)
    return repository.organization_by_name(session, name.strip())


def list_keys(
    session: Session, org: Organization, *, revoked: bool = False
) -> tuple[list[KeyRow], bool]:
    """The organization's live keys (with ``revoked``, its revoked ones), newest first per
    environment, and whether any environment had more than :data:`MAX_KEYS`."""
    rows: list[KeyRow] = []
    more = False
    for env in repository.environments_of(session, org.id):
        keys, count = repository.keys_of_environment(
            session,
            env.id,
            limit=MAX_KEYS,
            offset=0,
            status="archived" if revoked else "published",
        )
        more = more or count > len(keys)
        rows.extend(KeyRow(key, env) for key in keys)
    return rows, more


def revoke_key(session: Session, org: Organization, key_id: str) -> KeyRow:
    """Revokes the organization's live key ``key_id`` (its dashboard sessions end with it:
    each request checks the key); ``NotFound`` when it has no such live key."""
    for env in repository.environments_of(session, org.id):
        key = repository.key_in_environment(session, env.id, key_id)
        if key is not None and key.status == "published":
            key.status = "archived"
            session.flush()
            return KeyRow(key, env)
    raise NotFound("secret", key_id)
