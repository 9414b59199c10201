"""Plans: create, edit, archive, search and clone (a clone copies the active prices and the
entitlements)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing, set_given
from meterline.entitlements import repository as grants
from meterline.kernel.errors import AlreadyExists, InvalidRequest
from meterline.kernel.errors import InvalidOperation as InvalidStateOperation
from meterline.pricing import repository
from meterline.pricing.commands import PlanFields
from meterline.pricing.models import Plan, Price


def get_plan(session: Session, principal: Principal, plan_id: str) -> Plan:
    plan = repository.plan(session, principal.environment_id, plan_id)
    return existing(plan, "plan", plan_id)


def _check_plan_lookup_key(
    session: Session, principal: Principal, lookup_key: str | None, own_id: str | None = None
) -> None:
    if not lookup_key:
        return
    other = repository.plan_by_lookup_key(session, principal.environment_id, lookup_key)
    if other is not None and other.id != own_id:
        raise AlreadyExists(
            "A plan with this lookup_key already exists", details={"lookup_key": lookup_key}
        )


def create_plan(
    session: Session,
    principal: Principal,
    *,
    name: str,
    lookup_key: str | None = None,
    description: str | None = None,
    display_order: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Plan:
    if not name or not name.strip():
        raise InvalidRequest("name is required", field="name")
    _check_plan_lookup_key(session, principal, lookup_key)
    plan = Plan(
        id=new_id("plan"),
        environment_id=principal.environment_id,
        name=name.strip(),
        lookup_key=lookup_key or None,
        description=description,
        display_order=display_order or 0,
        metadata_=dict(metadata or {}),
    )
    session.add(plan)
    flush_unique(session, "A plan with this lookup_key already exists")
    return plan


def update_plan(session: Session, principal: Principal, plan_id: str, changes: PlanFields) -> Plan:
    """Change the fields given (not ``None``) of a published plan."""
    plan = get_plan(session, principal, plan_id)
    if plan.status != "published":
        raise InvalidStateOperation("an archived plan cannot be updated")
    if changes.name is not None:
        if not changes.name.strip():
            raise InvalidRequest("name must not be empty", field="name")
        plan.name = changes.name.strip()
    if changes.lookup_key is not None:
        _check_plan_lookup_key(session, principal, changes.lookup_key, plan.id)
        plan.lookup_key = changes.lookup_key or None
    set_given(plan, description=changes.description, display_order=changes.display_order)
    if changes.metadata is not None:
        plan.metadata_ = dict(changes.metadata)
    plan.updated_at = utcnow()
    flush_unique(session, "A plan with this lookup_key already exists")
    return plan


def archive_plan(session: Session, principal: Principal, plan_id: str) -> None:
    plan = get_plan(session, principal, plan_id)
    if plan.status == "archived":
        raise InvalidStateOperation("the plan is already archived")
    plan.status = "archived"
    plan.updated_at = utcnow()
    session.flush()


def search_plans(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Plan], int]:
    """Plans matching every filter given (``repository.PlanQuery``)."""
    q = repository.PlanQuery(**filters)
    return repository.search_plans(session, principal.environment_id, q, limit, offset)


def plan_prices(session: Session, principal: Principal, plan_ids: Sequence[str]) -> list[Price]:
    return repository.active_prices(session, principal.environment_id, "PLAN", plan_ids, utcnow())


def clone_plan(
    session: Session,
    principal: Principal,
    plan_id: str,
    *,
    name: str | None,
    lookup_key: str | None,
    description: str | None = None,
    display_order: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Plan:
    """A new plan with copies of the source's active prices and entitlements."""
    source = get_plan(session, principal, plan_id)
    if not name:
        raise InvalidRequest("name is required", field="name")
    clone = create_plan(
        session,
        principal,
        name=name,
        lookup_key=lookup_key,
        description=description if description is not None else source.description,
        display_order=display_order if display_order is not None else source.display_order,
        metadata=metadata if metadata is not None else source.metadata_,
    )
    now = utcnow()
    for price in plan_prices(session, principal, [source.id]):
        session.add(
            Price(
                **{
                    **price_columns(price),
                    "id": new_id("price"),
                    "entity_id": clone.id,
                    "lookup_key": None,
                    "parent_price_id": None,
                    "start_date": now,
                }
            )
        )
    for grant in grants.for_entities(session, principal.environment_id, "PLAN", [source.id]):
        grants.add_copy(session, grant, entity_type="PLAN", entity_id=clone.id)
    session.flush()
    return clone


def price_columns(price: Price) -> dict[str, Any]:
    """A price's column values (not its timestamps): what a copy or a new version starts from."""
    return {
        column.key: getattr(price, column.key)
        for column in Price.__mapper__.column_attrs
        if column.key not in ("created_at", "updated_at")
    }


def flush_unique(session: Session, message: str) -> None:
    """Flush; a unique-constraint violation is ``AlreadyExists(message)``."""
    try:
        session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise AlreadyExists(message) from exc


def is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text
