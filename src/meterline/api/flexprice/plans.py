"""/v1 plans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import ListPage, WireModel, list_response, split_csv
from meterline.api.flexprice.credit_grants import grant_out
from meterline.api.flexprice.entitlements import entitlement_out
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.flexprice.prices import price_out
from meterline.api.json import iso, json_response
from meterline.credits import service as credit_grants
from meterline.entitlements import repository as grants
from meterline.pricing import plans
from meterline.pricing.commands import PlanFields as PlanChanges
from meterline.pricing.models import Plan

router = APIRouter(tags=["plans"])


class PlanFields(WireModel):
    name: str | None = Field(default=None, max_length=255)
    lookup_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    display_order: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class PlanIn(PlanFields):
    name: str = Field(min_length=1, max_length=255)


class PlanSearch(FilterQuery):
    plan_ids: list[str] | None = Field(default=None, max_length=1000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    lookup_key: str | None = Field(default=None, max_length=255)


def plan_out(
    plan: Plan,
    prices: list[Any] | None = None,
    entitlements: list[Any] | None = None,
    credit_grants: list[Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": plan.id,
        "name": plan.name,
        "lookup_key": plan.lookup_key,
        "description": plan.description,
        "display_order": plan.display_order,
        "metadata": plan.metadata_ or {},
        "environment_id": plan.environment_id,
        "status": plan.status,
        "created_at": iso(plan.created_at),
        "updated_at": iso(plan.updated_at),
    }
    if prices is not None:
        body["prices"] = prices
    if entitlements is not None:
        body["entitlements"] = entitlements
        body["credit_grants"] = credit_grants or []
    return {k: v for k, v in body.items() if v is not None}


def _full(session: Any, principal: Any, plan: Plan) -> dict[str, Any]:
    prices = [price_out(p) for p in plans.plan_prices(session, principal, [plan.id])]
    ents = [
        entitlement_out(g)
        for g in grants.for_entities(session, principal.environment_id, "PLAN", [plan.id])
    ]
    plan_grants = [grant_out(g) for g in credit_grants.plan_grants(session, principal, plan.id)]
    return plan_out(plan, prices, ents, plan_grants)


@router.post("/plans", status_code=201, summary="Create a plan")
def create_plan(body: PlanIn, principal: Vendor, session: WriteSession) -> Response:
    plan = plans.create_plan(
        session,
        principal,
        name=body.name,
        lookup_key=body.lookup_key,
        description=body.description,
        display_order=body.display_order,
        metadata=body.metadata,
    )
    return json_response(plan_out(plan, [], []), 201)


@router.post("/plans/search", summary="Search plans")
def search_plans(body: PlanSearch, principal: VendorRead, session: ReadSession) -> Response:
    expand = refuse_expand(body.expand, ("prices", "entitlements"))
    found, total = plans.search_plans(
        session,
        principal,
        **body.terms(),
        plan_ids=body.plan_ids,
        lookup_key=body.lookup_key,
        metadata=body.metadata,
    )
    items = []
    for plan in found:
        if expand & {"prices", "entitlements"}:
            items.append(_full(session, principal, plan))
        else:
            items.append(plan_out(plan))
    return list_response(items, total, body)


@router.get("/plans", summary="List plans")
def list_plans(
    principal: Vendor,
    session: ReadSession,
    page: ListPage,
    expand: str | None = None,
    plan_ids: list[str] | None = Query(None),
    lookup_key: str | None = None,
) -> Response:
    q = PlanSearch(**dict(page), expand=expand, plan_ids=split_csv(plan_ids), lookup_key=lookup_key)
    return search_plans(q, principal, session)


@router.get("/plans/{plan_id}", summary="Get a plan with its prices and entitlements")
def get_plan(plan_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(_full(session, principal, plans.get_plan(session, principal, plan_id)))


@router.put("/plans/{plan_id}", summary="Update a plan")
def update_plan(
    plan_id: str, body: PlanFields, principal: Vendor, session: WriteSession
) -> Response:
    plan = plans.update_plan(session, principal, plan_id, PlanChanges(**body.model_dump()))
    return json_response(_full(session, principal, plan))


@router.delete("/plans/{plan_id}", summary="Delete (archive) a plan")
def delete_plan(plan_id: str, principal: Vendor, session: WriteSession) -> Response:
    plans.archive_plan(session, principal, plan_id)
    return json_response({"message": "plan deleted successfully"})


@router.post(
    "/plans/{plan_id}/clone",
    status_code=201,
    summary="Clone a plan with its prices and entitlements",
)
def clone_plan(
    plan_id: str, body: PlanFields, principal: Vendor, session: WriteSession
) -> Response:
    plan = plans.clone_plan(
        session,
        principal,
        plan_id,
        name=body.name,
        lookup_key=body.lookup_key,
        description=body.description,
        display_order=body.display_order,
        metadata=body.metadata,
    )
    return json_response(_full(session, principal, plan), 201)
