"""Group rules.

* A group holds prices or features (``entity_type`` ``price`` or ``feature``, fixed once
  created); ``lookup_key`` is unique among the environment's live groups.
* A price (``create_price``'s ``group_id``) or a feature (``create_feature`` /
  ``update_feature``'s ``group_id``) joins a live group of its kind; the group's
  ``entity_ids`` are its live members.
* A price's group travels to the invoice lines it bills: each carries ``group_id`` in its
  metadata (the SDK's invoice line has no group field), so an invoice's lines can be
  grouped by it.
* Deleting archives the group, frees its lookup key and takes every member out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.groups import repository
from meterline.groups.models import ENTITY_TYPES, Group
from meterline.kernel.errors import AlreadyExists, InvalidRequest, NotFound
from meterline.pricing.fields import choice
from meterline.pricing.plans import flush_unique

TAKEN = "A group with this lookup_key exists"


@dataclass(frozen=True)
class NewGroup:
    name: str
    lookup_key: str
    entity_type: str
    metadata: dict[str, str] | None = None


def create_group(session: Session, principal: Principal, data: NewGroup) -> Group:
    name, key = data.name.strip(), data.lookup_key.strip()
    if not name:
        raise InvalidRequest("name is required", field="name")
    if not key:
        raise InvalidRequest("lookup_key is required", field="lookup_key")
    kind = choice(data.entity_type, ENTITY_TYPES, "entity_type")
    if repository.by_lookup_key(session, principal.environment_id, key) is not None:
        raise AlreadyExists(TAKEN, details={"lookup_key": key})
    made = Group(
        id=new_id("group"),
        environment_id=principal.environment_id,
        name=name,
        lookup_key=key,
        entity_type=kind,
        metadata_=dict(data.metadata or {}),
    )
    session.add(made)
    flush_unique(session, TAKEN)
    return made


def get_group(session: Session, principal: Principal, group_id: str) -> Group:
    return existing(
        repository.group(session, principal.environment_id, group_id), "group", group_id
    )


def member_group(session: Session, environment_id: str, group_id: str, entity_type: str) -> str:
    """``group_id`` when it names a live group of ``entity_type``; else a 400 naming it."""
    found = repository.group(session, environment_id, group_id)
    if found is None or found.status != "published":
        raise InvalidRequest("no group has this id", field="group_id")
    if found.entity_type != entity_type:
        raise InvalidRequest(
            f"the group holds {found.entity_type}s, not {entity_type}s",
            field="group_id",
            details={"entity_type": found.entity_type},
        )
    return found.id


def search_groups(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Group], int]:
    if filters.get("entity_type"):
        choice(filters["entity_type"], ENTITY_TYPES, "entity_type")
    q = repository.GroupQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)


def members(session: Session, groups: Sequence[Group]) -> dict[str, list[str]]:
    return repository.members(session, groups)


def delete_group(session: Session, principal: Principal, group_id: str) -> None:
    found = get_group(session, principal, group_id)
    if found.status != "published":
        raise NotFound("group", group_id)
    repository.release_members(session, found)
    found.status = "archived"
    found.updated_at = utcnow()
    session.flush()
