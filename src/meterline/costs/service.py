"""Cost sheet rules.

* A cost sheet is a name, an optional ``lookup_key`` (unique among the environment's
  published cost sheets), a description and metadata. Its prices are created through
  ``create_price`` with ``entity_type`` COSTSHEET and its id; they price the vendor's own
  cost and are never billed to a customer.
* The active cost sheet of an environment is its newest published one: there is at most one,
  and creating a cost sheet makes it the active one at once (the one it replaces stays
  readable and searchable). Deleting archives a cost sheet, frees its lookup key and makes the
  previous published one active again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.costs import repository
from meterline.costs.models import Costsheet
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest, NotFound
from meterline.pricing import repository as price_repository
from meterline.pricing.fields import choice
from meterline.pricing.models import Price
from meterline.pricing.plans import flush_unique

ENTITY_TYPE = "COSTSHEET"
STATUSES = ("published", "archived", "deleted")
TAKEN = "A cost sheet with this lookup_key exists"


@dataclass(frozen=True)
class NewCostsheet:
    name: str
    lookup_key: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class CostsheetChanges:
    name: str | None = None
    lookup_key: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidRequest("name must not be empty", field="name")
    return name


def _free_key(
    session: Session, environment_id: str, value: str, own_id: str | None = None
) -> str | None:
    key = value.strip() or None
    if key is None:
        return None
    found = repository.by_lookup_key(session, environment_id, key)
    if found is not None and found.id != own_id:
        raise AlreadyExists(TAKEN, details={"lookup_key": key})
    return key


def create_costsheet(session: Session, principal: Principal, data: NewCostsheet) -> Costsheet:
    env = principal.environment_id
    made = Costsheet(
        id=new_id("costsheet"),
        environment_id=env,
        name=_name(data.name),
        lookup_key=_free_key(session, env, data.lookup_key or ""),
        description=data.description,
        metadata_=dict(data.metadata or {}),
        status="published",
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(made)
    flush_unique(session, TAKEN)
    return made


def get_costsheet(session: Session, principal: Principal, costsheet_id: str) -> Costsheet:
    found = repository.costsheet(session, principal.environment_id, costsheet_id)
    return existing(found, "costsheet", costsheet_id)


def active_costsheet(session: Session, principal: Principal) -> Costsheet:
    found = repository.active(session, principal.environment_id)
    return existing(found, "costsheet", "active")


def search_costsheets(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Costsheet], int]:
    if filters.get("status"):
        choice(filters["status"], STATUSES, "status")
    q = repository.CostsheetQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)


def prices(session: Session, sheets: Sequence[Costsheet]) -> dict[str, list[Price]]:
    """Each cost sheet's prices that have not ended, oldest first."""
    out: dict[str, list[Price]] = {s.id: [] for s in sheets}
    if not sheets:
        return out
    environment_id = sheets[0].environment_id
    found = price_repository.active_prices(
        session, environment_id, ENTITY_TYPE, [s.id for s in sheets], utcnow()
    )
    for price in found:
        out[price.entity_id].append(price)
    return out


def update_costsheet(
    session: Session, principal: Principal, costsheet_id: str, changes: CostsheetChanges
) -> Costsheet:
    found = get_costsheet(session, principal, costsheet_id)
    if found.status != "published":
        raise InvalidOperation("a deleted cost sheet cannot be updated")
    if changes.name is not None:
        found.name = _name(changes.name)
    if changes.lookup_key is not None:
        found.lookup_key = _free_key(
            session, principal.environment_id, changes.lookup_key, found.id
        )
    if changes.description is not None:
        found.description = changes.description
    if changes.metadata is not None:
        found.metadata_ = dict(changes.metadata)
    found.updated_by = principal.user_id
    found.updated_at = utcnow()
    flush_unique(session, TAKEN)
    return found


def delete_costsheet(session: Session, principal: Principal, costsheet_id: str) -> None:
    found = get_costsheet(session, principal, costsheet_id)
    if found.status != "published":
        raise NotFound("costsheet", costsheet_id)
    found.status = "archived"
    found.updated_by = principal.user_id
    found.updated_at = utcnow()
    session.flush()
