"""Entitlements (grants of a feature to a plan or a subscription): create, read, change.

Rules (reference §4.6): ``feature_type`` must be the feature's type; ``static`` needs a
``static_value``; ``config_value`` only on ``config``; metered, static and config grants are
always enabled; ``usage_limit`` ``None`` = unlimited, never negative. One published grant
per (entity, feature).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository as addon_repository
from meterline.catalog import service as catalog
from meterline.catalog.models import FEATURE_TYPES
from meterline.db.base import new_id, utcnow
from meterline.db.search import apply_filters, apply_sort, created_between, page
from meterline.entitlements import repository
from meterline.entitlements.commands import CreateEntitlement, UpdateEntitlement
from meterline.entitlements.models import Entitlement
from meterline.kernel.calendar import RESET_PERIODS
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest, NotFound
from meterline.kernel.unset import Unset
from meterline.pricing import plans
from meterline.pricing.plans import is_unique_violation
from meterline.subscriptions import repository as subscriptions
from meterline.webhooks import notify

GRANT_ENTITY_TYPES = ("PLAN", "SUBSCRIPTION", "ADDON")
MAX_BULK = 100


def _choice(value: str | None, allowed: Sequence[str], field: str) -> str:
    if value is None or value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def _limit(value: int | None) -> Decimal | None:
    if value is None:
        return None
    if value < 0:
        raise InvalidRequest("usage_limit must not be negative", field="usage_limit")
    return Decimal(value)


def _check_entity(session: Session, principal: Principal, entity_type: str, entity_id: str) -> None:
    if entity_type == "PLAN":
        plan = plans.get_plan(session, principal, entity_id)
        if plan.status != "published":
            raise InvalidRequest("the plan is archived", field="plan_id")
    elif entity_type == "ADDON":
        addon = addon_repository.addon(session, principal.environment_id, entity_id)
        if addon is None:
            raise NotFound("addon", entity_id)
        if addon.status != "published":
            raise InvalidRequest("the add-on is deleted", field="entity_id")
    elif subscriptions.subscription(session, principal.environment_id, entity_id) is None:
        raise NotFound("subscription", entity_id)


def build_entitlement(
    session: Session, principal: Principal, data: CreateEntitlement
) -> Entitlement:
    """Validate one create command and return the unsaved grant."""
    feature_id = data.feature_id
    if not feature_id:
        raise InvalidRequest("feature_id is required", field="feature_id")
    feature_type = _choice(data.feature_type, FEATURE_TYPES, "feature_type")
    entity_type = data.entity_type
    entity_id = data.entity_id
    if data.plan_id and not entity_id:
        entity_type, entity_id = entity_type or "PLAN", data.plan_id
    if not entity_id:
        raise InvalidRequest("plan_id or entity_type and entity_id are required", field="entity_id")
    entity_type = _choice(entity_type or "PLAN", GRANT_ENTITY_TYPES, "entity_type")
    feature = catalog.get_feature(session, principal, feature_id)
    if feature.status != "published":
        raise InvalidRequest("the feature is archived", field="feature_id")
    if feature.type != feature_type:
        raise InvalidRequest(
            f"feature_type must match the feature's type ({feature.type})", field="feature_type"
        )
    _check_entity(session, principal, entity_type, entity_id)
    grant = Entitlement(
        id=new_id("ent"),
        environment_id=principal.environment_id,
        entity_type=entity_type,
        entity_id=entity_id,
        feature_id=feature.id,
        feature_type=feature_type,
        is_enabled=True,
        is_soft_limit=False,
        overage_percent=Decimal(0),
        # The column is NOT NULL JSON: "no config" is stored as JSON null.
        config_value=JSON.NULL,
        display_order=data.display_order or 0,
        metadata_={},
    )
    _apply(grant, data, creating=True)
    return grant


def _apply(
    grant: Entitlement, data: CreateEntitlement | UpdateEntitlement, *, creating: bool
) -> None:
    kind = grant.feature_type
    if kind == "boolean":
        if data.is_enabled is not None:
            grant.is_enabled = data.is_enabled
        elif creating:
            grant.is_enabled = True
    else:
        grant.is_enabled = True
    # A create's usage_limit is never UNSET: not given there is None, unlimited.
    limit = data.usage_limit
    if kind == "metered":
        if not isinstance(limit, Unset):
            grant.usage_limit = _limit(limit)
        if data.usage_reset_period is not None:
            grant.usage_reset_period = _choice(
                data.usage_reset_period, RESET_PERIODS, "usage_reset_period"
            )
        elif creating:
            grant.usage_reset_period = "MONTHLY"
        if data.is_soft_limit is not None:
            grant.is_soft_limit = data.is_soft_limit
            grant.overage_percent = None if grant.is_soft_limit else Decimal(0)
    elif limit is not None and not isinstance(limit, Unset):
        raise InvalidRequest("usage_limit is only for metered features", field="usage_limit")
    value = data.static_value
    if kind == "static":
        if value is not None:
            if not value.strip() or len(value) > 2000:
                raise InvalidRequest(
                    "static_value must be 1 to 2000 characters", field="static_value"
                )
            grant.static_value = value
        elif creating:
            raise InvalidRequest("static features need a static_value", field="static_value")
    elif value is not None:
        raise InvalidRequest("static_value is only for static features", field="static_value")
    if data.config_value is not None:
        if kind != "config":
            raise InvalidRequest("config_value is only for config features", field="config_value")
        grant.config_value = data.config_value


def create_entitlements(
    session: Session, principal: Principal, bodies: Sequence[CreateEntitlement], *, bulk: bool
) -> list[Entitlement]:
    """All or nothing."""
    if bulk and not 1 <= len(bodies) <= MAX_BULK:
        raise InvalidRequest(f"items must hold 1 to {MAX_BULK} entitlements", field="items")
    built: list[Entitlement] = []
    seen: set[tuple[str, str, str]] = set()
    for position, data in enumerate(bodies):
        try:
            grant = build_entitlement(session, principal, data)
        except InvalidRequest as exc:
            if bulk and exc.field:
                raise exc.within(f"items[{position}]") from exc
            raise
        key = (grant.entity_type, grant.entity_id, grant.feature_id)
        if key in seen or repository.published_grant(session, principal.environment_id, *key):
            raise AlreadyExists(
                "An entitlement for this feature already exists on the entity",
                details={"entity_id": grant.entity_id, "feature_id": grant.feature_id},
            )
        seen.add(key)
        built.append(grant)
    session.add_all(built)
    try:
        session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise AlreadyExists("An entitlement for this feature already exists on the entity") from exc
    for grant in built:
        notify.entitlement_changed(session, grant, "created")
    return built


def get_entitlement(session: Session, principal: Principal, entitlement_id: str) -> Entitlement:
    grant = repository.get(session, principal.environment_id, entitlement_id)
    if grant is None or grant.entity_type not in GRANT_ENTITY_TYPES:
        raise NotFound("entitlement", entitlement_id)
    return grant


def update_entitlement(
    session: Session, principal: Principal, entitlement_id: str, changes: UpdateEntitlement
) -> Entitlement:
    grant = get_entitlement(session, principal, entitlement_id)
    if grant.status != "published":
        raise InvalidOperation("an archived entitlement cannot be updated")
    _apply(grant, changes, creating=False)
    grant.updated_at = utcnow()
    session.flush()
    notify.entitlement_changed(session, grant, "updated")
    return grant


def archive_entitlement(session: Session, principal: Principal, entitlement_id: str) -> None:
    grant = get_entitlement(session, principal, entitlement_id)
    if grant.status != "published":
        raise InvalidOperation("the entitlement is already deleted")
    grant.status = "archived"
    grant.updated_at = utcnow()
    session.flush()
    notify.entitlement_changed(session, grant, "deleted")


def search_entitlements(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    entity_type: str | None = None,
    entity_ids: Sequence[str] | None = None,
    feature_ids: Sequence[str] | None = None,
    feature_type: str | None = None,
    is_enabled: bool | None = None,
    plan_ids: Sequence[str] | None = None,
    status: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    filters: Sequence[Any] | None = None,
    sort: Sequence[Any] | str | None = None,
    order: str | None = None,
) -> tuple[list[Entitlement], int]:
    stmt = repository.query(principal.environment_id)
    stmt = stmt.where(Entitlement.status == (status or "published"))
    if entity_type:
        stmt = stmt.where(
            Entitlement.entity_type == _choice(entity_type, GRANT_ENTITY_TYPES, "entity_type")
        )
    else:
        stmt = stmt.where(Entitlement.entity_type.in_(GRANT_ENTITY_TYPES))
    if entity_ids:
        stmt = stmt.where(Entitlement.entity_id.in_(entity_ids))
    if plan_ids:
        stmt = stmt.where(Entitlement.entity_type == "PLAN", Entitlement.entity_id.in_(plan_ids))
    if feature_ids:
        stmt = stmt.where(Entitlement.feature_id.in_(feature_ids))
    if feature_type:
        stmt = stmt.where(
            Entitlement.feature_type == _choice(feature_type, FEATURE_TYPES, "feature_type")
        )
    if is_enabled is not None:
        stmt = stmt.where(Entitlement.is_enabled == is_enabled)
    stmt = stmt.where(*created_between(Entitlement.created_at, start_time, end_time))
    stmt = apply_filters(stmt, filters, repository.COLUMNS)
    stmt = apply_sort(stmt, sort, order, repository.COLUMNS).order_by(Entitlement.id)
    return page(session, stmt, limit, offset)
