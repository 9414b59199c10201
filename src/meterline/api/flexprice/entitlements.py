"""/v1 entitlements (grants of a feature to a plan or subscription) and the atomic check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession, database
from meterline.api.flexprice.common import (
    ListPage,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.catalog import service as catalog
from meterline.entitlements import checks
from meterline.entitlements import service as entitlements
from meterline.entitlements.commands import CreateEntitlement, UpdateEntitlement
from meterline.entitlements.models import Entitlement
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.unset import sent
from meterline.pricing import plans
from meterline.subscriptions import service as subscriptions

router = APIRouter(tags=["entitlements"])


class EntitlementFields(WireModel):
    unsupported = frozenset(
        {
            "aggregation_mode",
            "grant_allocation_behavior",
            "grant_duration_unit",
            "grant_duration_value",
            "grant_measure",
            "grant_quota",
            "grant_unlimited",
        }
    )
    is_enabled: bool | None = None
    usage_limit: money.WholeQuantity | None = None
    usage_reset_period: str | None = None
    is_soft_limit: bool | None = None
    static_value: str | None = Field(default=None, max_length=2000)
    config_value: dict[str, Any] | None = None


class EntitlementIn(EntitlementFields):
    unsupported = EntitlementFields.unsupported | {
        "end_date",
        "parent_entitlement_id",
        "start_date",
    }
    feature_id: str | None = Field(default=None, max_length=64)
    feature_type: str | None = None
    plan_id: str | None = Field(default=None, max_length=64)
    entity_type: str | None = None
    entity_id: str | None = Field(default=None, max_length=64)
    display_order: int | None = None

    def command(self) -> CreateEntitlement:
        return CreateEntitlement(**dict(self))


class EntitlementBulkIn(WireModel):
    items: list[EntitlementIn] = Field(min_length=1, max_length=100)


class EntitlementSearch(FilterQuery):
    UNSUPPORTED = ("has_grant_config",)

    entity_type: str | None = None
    entity_ids: list[str] | None = Field(default=None, max_length=1000)
    feature_ids: list[str] | None = Field(default=None, max_length=1000)
    feature_type: str | None = None
    is_enabled: bool | None = None
    plan_ids: list[str] | None = Field(default=None, max_length=1000)


class CheckIn(WireModel):
    customer_id: str | None = Field(default=None, max_length=64)
    external_customer_id: str | None = Field(default=None, max_length=255)
    feature_id: str | None = Field(default=None, max_length=64)
    feature_lookup_key: str | None = Field(default=None, max_length=255)
    consume: money.Quantity | None = None
    event_id: str | None = Field(default=None, min_length=1, max_length=255)


def limit_int(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def entitlement_out(grant: Entitlement) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": grant.id,
        "entity_type": grant.entity_type,
        "entity_id": grant.entity_id,
        "feature_id": grant.feature_id,
        "feature_type": grant.feature_type,
        "is_enabled": grant.is_enabled,
        "usage_limit": limit_int(grant.usage_limit),
        "usage_reset_period": grant.usage_reset_period,
        "is_soft_limit": grant.is_soft_limit,
        "static_value": grant.static_value,
        "config_value": grant.config_value if isinstance(grant.config_value, dict) else None,
        "display_order": grant.display_order,
        "environment_id": grant.environment_id,
        "status": grant.status,
        "created_at": iso(grant.created_at),
        "updated_at": iso(grant.updated_at),
    }
    if grant.entity_type == "PLAN":
        body["plan_id"] = grant.entity_id
    return {k: v for k, v in body.items() if v is not None or k == "usage_limit"}


@router.post("/entitlements", status_code=201, summary="Create an entitlement")
def create_entitlement(body: EntitlementIn, principal: Vendor, session: WriteSession) -> Response:
    [grant] = entitlements.create_entitlements(session, principal, [body.command()], bulk=False)
    return json_response(entitlement_out(grant), 201)


@router.post("/entitlements/bulk", status_code=201, summary="Create 1 to 100 entitlements")
def create_entitlements_bulk(
    body: EntitlementBulkIn, principal: Vendor, session: WriteSession
) -> Response:
    grants = entitlements.create_entitlements(
        session, principal, [i.command() for i in body.items], bulk=True
    )
    return json_response({"items": [entitlement_out(g) for g in grants]}, 201)


@router.post("/entitlements/search", summary="Search entitlements")
def search_entitlements(
    body: EntitlementSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    found, total = entitlements.search_entitlements(
        session,
        principal,
        **body.terms(),
        entity_type=body.entity_type,
        entity_ids=body.entity_ids,
        feature_ids=body.feature_ids,
        feature_type=body.feature_type,
        is_enabled=body.is_enabled,
        plan_ids=body.plan_ids,
    )
    return list_response([entitlement_out(g) for g in found], total, body)


@router.get("/entitlements", summary="List entitlements")
def list_entitlements(
    principal: Vendor,
    session: ReadSession,
    page: ListPage,
    entity_type: str | None = None,
    entity_ids: list[str] | None = Query(None),
    feature_ids: list[str] | None = Query(None),
    feature_type: str | None = None,
    is_enabled: bool | None = None,
    plan_ids: list[str] | None = Query(None),
) -> Response:
    q = EntitlementSearch(
        **dict(page),
        entity_type=entity_type,
        entity_ids=split_csv(entity_ids),
        feature_ids=split_csv(feature_ids),
        feature_type=feature_type,
        is_enabled=is_enabled,
        plan_ids=split_csv(plan_ids),
    )
    return search_entitlements(q, principal, session)


@router.get("/plans/{plan_id}/entitlements", summary="A plan's entitlements")
def plan_entitlements(plan_id: str, principal: Vendor, session: ReadSession) -> Response:
    plans.get_plan(session, principal, plan_id)
    q = EntitlementSearch(limit=1000, plan_ids=[plan_id])
    return search_entitlements(q, principal, session)


@router.get("/entitlements/{entitlement_id}", summary="Get an entitlement")
def get_entitlement(entitlement_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(
        entitlement_out(entitlements.get_entitlement(session, principal, entitlement_id))
    )


@router.put("/entitlements/{entitlement_id}", summary="Update an entitlement")
def update_entitlement(
    entitlement_id: str, body: EntitlementFields, principal: Vendor, session: WriteSession
) -> Response:
    changes = sent(UpdateEntitlement, body.model_fields_set, dict(body))
    grant = entitlements.update_entitlement(session, principal, entitlement_id, changes)
    return json_response(entitlement_out(grant))


@router.delete("/entitlements/{entitlement_id}", summary="Delete (archive) an entitlement")
def delete_entitlement(entitlement_id: str, principal: Vendor, session: WriteSession) -> Response:
    entitlements.archive_entitlement(session, principal, entitlement_id)
    return json_response({"message": "entitlement deleted successfully"})


@router.post(
    "/entitlements/check",
    summary="May this customer use this feature now? With `consume`, record the use atomically",
    description=(
        "Answers `{allowed, usage, limit, remaining, is_soft_limit, resets_at}`. With "
        "`consume`, the usage is recorded as an event in the same transaction as the check, "
        "so concurrent callers never push usage past a hard limit. Idempotent on `event_id`."
    ),
)
async def check_entitlement(body: CheckIn, principal: Vendor, request: Request) -> Response:
    # The unit of work (lock, check, consume, commit) runs in ONE worker-thread call. With
    # the WriteSession dependency the commit would need a second thread-pool token after the
    # handler returned; under load every token can be taken by requests waiting for the
    # customer's lock, and the holder could never commit (a deadlock seen on PostgreSQL).
    db = database(request)

    def run() -> dict[str, Any]:
        with db.session(write=True) as session:
            return _check(session, principal, body)

    return json_response(await run_in_threadpool(run))


def _check(session: Session, principal: Principal, body: CheckIn) -> dict[str, Any]:
    customer = subscriptions.resolve_customer(
        session, principal, body.customer_id, body.external_customer_id
    )
    if body.feature_id:
        feature = catalog.get_feature(session, principal, body.feature_id)
    elif body.feature_lookup_key:
        feature = catalog.get_feature_by_lookup_key(session, principal, body.feature_lookup_key)
    else:
        raise InvalidRequest("feature_id or feature_lookup_key is required", field="feature_id")
    result = checks.check_feature(
        session, principal, customer, feature, consume=body.consume, event_id=body.event_id
    )
    return check_out(result)


def check_out(result: checks.CheckResult) -> dict[str, Any]:
    access, customer, feature = result.access, result.customer, result.feature
    body_out: dict[str, Any] = {
        "allowed": result.allowed,
        "reason": result.reason,
        "customer_id": customer.id,
        "external_customer_id": customer.external_id,
        "feature_id": feature.id,
        "feature_lookup_key": feature.lookup_key,
        "feature_type": feature.type,
        "is_enabled": bool(access and access.is_enabled),
        "usage": decimal_text(result.usage),
        "limit": decimal_text(result.limit),
        "remaining": decimal_text(result.remaining),
        "is_unlimited": bool(access and access.is_unlimited),
        "is_soft_limit": bool(access and access.is_soft_limit),
        "resets_at": iso(result.resets_at),
        "consumed": decimal_text(result.consumed),
        "duplicate": result.duplicate,
    }
    if feature.type == "static":
        body_out["static_values"] = access.static_values if access else []
    if feature.type == "config":
        body_out["config_values"] = access.config_values if access else []
    return body_out
