"""The add-on catalog: create, read, search, update, delete.

An add-on is a name and a lookup key (unique among the environment's published add-ons);
what it sells hangs off it by id: prices (``entity_type`` ADDON), entitlements (ADDON) and
credit grants (scope ADDON). Deleting archives it: no new subscription can buy it, and it
is refused while a subscription still has it (remove it there first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository
from meterline.addons.models import Addon
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest
from meterline.pricing.plans import is_unique_violation
from meterline.subscriptions import service as subscriptions


@dataclass(frozen=True)
class NewAddon:
    name: str
    lookup_key: str
    description: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class AddonChanges:
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidRequest("name must not be empty", field="name")
    return name


def _lookup_key(value: str) -> str:
    key = value.strip()
    if not key:
        raise InvalidRequest("lookup_key must not be empty", field="lookup_key")
    return key


def create_addon(session: Session, principal: Principal, data: NewAddon) -> Addon:
    key = _lookup_key(data.lookup_key)
    if repository.addon_by_lookup_key(session, principal.environment_id, key) is not None:
        raise AlreadyExists(
            f"an add-on with lookup_key {key} already exists", details={"lookup_key": key}
        )
    addon = Addon(
        environment_id=principal.environment_id,
        name=_name(data.name),
        lookup_key=key,
        description=data.description,
        metadata_=dict(data.metadata or {}),
        status="published",
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    try:
        with session.begin_nested():
            session.add(addon)
            session.flush()
    except IntegrityError as exc:  # a concurrent create of the same key
        if is_unique_violation(exc):
            raise AlreadyExists(
                f"an add-on with lookup_key {key} already exists", details={"lookup_key": key}
            ) from exc
        raise
    return addon


def get_addon(session: Session, principal: Principal, addon_id: str) -> Addon:
    return existing(
        repository.addon(session, principal.environment_id, addon_id), "addon", addon_id
    )


def get_live_addon(session: Session, principal: Principal, addon_id: str) -> Addon:
    """The add-on, refused when it has been deleted."""
    addon = get_addon(session, principal, addon_id)
    if addon.status != "published":
        raise InvalidRequest("the add-on is deleted", field="addon_id", details={"id": addon_id})
    return addon


def get_addon_by_lookup_key(session: Session, principal: Principal, lookup_key: str) -> Addon:
    found = repository.addon_by_lookup_key(session, principal.environment_id, lookup_key)
    return existing(found, "addon", lookup_key)


def search_addons(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Addon], int]:
    q = repository.AddonQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)


def update_addon(
    session: Session, principal: Principal, addon_id: str, changes: AddonChanges
) -> Addon:
    addon = get_addon(session, principal, addon_id)
    if addon.status != "published":
        raise InvalidOperation("a deleted add-on cannot be updated")
    if changes.name is not None:
        addon.name = _name(changes.name)
    if changes.description is not None:
        addon.description = changes.description
    if changes.metadata is not None:
        addon.metadata_ = dict(changes.metadata)
    addon.updated_by = principal.user_id
    addon.updated_at = utcnow()
    session.flush()
    return addon


def delete_addon(session: Session, principal: Principal, addon_id: str) -> None:
    addon = get_addon(session, principal, addon_id)
    if addon.status != "published":
        raise InvalidOperation("the add-on is already deleted")
    now = utcnow()
    held = repository.live_of_addon(session, principal.environment_id, addon.id)
    subs = repository.subscriptions_of(session, held)
    # A cancelled subscription's association holds nothing: it is never billed again.
    live = [
        a
        for a in held
        if a.entity_id in subs
        and subscriptions.effective_status(subs[a.entity_id], now) != "cancelled"
    ]
    if live:
        raise InvalidOperation(
            "the add-on is on subscriptions: remove it from them first",
            details={"subscription_ids": sorted({a.entity_id for a in live})[:20]},
        )
    addon.status = "archived"
    addon.updated_by = principal.user_id
    addon.updated_at = utcnow()
    session.flush()
