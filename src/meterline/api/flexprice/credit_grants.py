"""/v1 credit grants: create (201), get, list, update, delete, and a plan's grants.

The SDK's ``conversion_rate``, ``topup_conversion_rate`` (the grant's wallet is the
customer's, at its own rates) and ``proration_behavior`` are refused by name. An ADDON
grant (``addon_id``) applies to the subscriptions while they have its add-on.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import (
    Page,
    WireModel,
    decimal_text,
    list_envelope,
    list_response,
    split_csv,
)
from meterline.api.json import iso, json_response
from meterline.credits import service as grants
from meterline.credits import upcoming
from meterline.credits.models import CreditGrant
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant
from meterline.kernel.unset import sent

router = APIRouter(tags=["credit grants"])

# A grant's period count and expiry duration, at most (ten years of days).
MAX_PERIOD_COUNT = 12
MAX_EXPIRATION_DURATION = 3660
MAX_PRIORITY = 1_000_000


class CreditGrantIn(WireModel):
    unsupported = frozenset({"conversion_rate", "proration_behavior", "topup_conversion_rate"})
    name: str = Field(max_length=255)
    scope: str = Field(max_length=20)
    credits: money.Quantity
    cadence: str = Field(max_length=20)
    plan_id: str | None = Field(default=None, max_length=64)
    subscription_id: str | None = Field(default=None, max_length=64)
    addon_id: str | None = Field(default=None, max_length=64)
    period: str | None = Field(default=None, max_length=20)
    period_count: int | None = Field(default=None, ge=1, le=MAX_PERIOD_COUNT)
    expiration_type: str | None = Field(default=None, max_length=20)
    expiration_duration: int | None = Field(default=None, ge=1, le=MAX_EXPIRATION_DURATION)
    expiration_duration_unit: str | None = Field(default=None, max_length=10)
    priority: int | None = Field(default=None, ge=0, le=MAX_PRIORITY)
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)

    def command(self) -> grants.CreateGrant:
        return grants.CreateGrant(**dict(self))


class CreditGrantUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    end_date: OptionalInstant = None


class CreditGrantDelete(WireModel):
    effective_date: OptionalInstant = None


def grant_out(grant: CreditGrant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "name": grant.name,
        "scope": grant.scope,
        "plan_id": grant.plan_id,
        "subscription_id": grant.subscription_id,
        "addon_id": grant.addon_id,
        "credits": decimal_text(grant.credits),
        "cadence": grant.cadence,
        "period": grant.period,
        "period_count": grant.period_count,
        "expiration_type": grant.expiration_type,
        "expiration_duration": grant.expiration_duration,
        "expiration_duration_unit": grant.expiration_duration_unit,
        "priority": grant.priority,
        "start_date": iso(grant.start_date),
        "end_date": iso(grant.end_date),
        "credit_grant_anchor": iso(grant.start_date or grant.created_at),
        "metadata": grant.metadata_ or {},
        "environment_id": grant.environment_id,
        "tenant_id": None,
        "status": grant.status,
        "created_at": iso(grant.created_at),
        "updated_at": iso(grant.updated_at),
        "created_by": grant.created_by,
        "updated_by": grant.updated_by,
    }


@router.post("/creditgrants", status_code=201, summary="Create a credit grant")
def create_grant(body: CreditGrantIn, principal: Vendor, session: WriteSession) -> Response:
    grant = grants.create_grant(session, principal, body.command())
    return json_response(grant_out(grant), 201)


@router.get("/creditgrants", summary="List credit grants")
def list_grants(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    plan_ids: list[str] | None = Query(default=None, max_length=100),
    subscription_ids: list[str] | None = Query(default=None, max_length=100),
    scope: str | None = Query(default=None, max_length=20),
) -> Response:
    found, total = grants.list_grants(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        plan_ids=split_csv(plan_ids),
        subscription_ids=split_csv(subscription_ids),
        scope=scope,
    )
    return list_response([grant_out(g) for g in found], total, page)


@router.get("/plans/{plan_id}/creditgrants", summary="A plan's credit grants")
def plan_grants(plan_id: str, principal: Vendor, session: ReadSession) -> Response:
    found = grants.plan_grants(session, principal, plan_id)
    items = [grant_out(g) for g in found]
    return json_response(list_envelope(items, len(items), 1000, 0))


@router.get("/addons/{addon_id}/creditgrants", summary="An add-on's credit grants")
def addon_grants(addon_id: str, principal: Vendor, session: ReadSession) -> Response:
    found = grants.addon_grants(session, principal, addon_id)
    items = [grant_out(g) for g in found]
    return json_response(list_envelope(items, len(items), 1000, 0))


@router.get("/creditgrants/{grant_id}", summary="Get a credit grant")
def get_grant(grant_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(grant_out(grants.get_grant(session, principal, grant_id)))


@router.put("/creditgrants/{grant_id}", summary="Update a credit grant")
def update_grant(
    grant_id: str, body: CreditGrantUpdate, principal: Vendor, session: WriteSession
) -> Response:
    given = {name for name in body.model_fields_set if getattr(body, name) is not None}
    if "end_date" in body.model_fields_set:
        given.add("end_date")  # an explicit null clears the end
    changes = sent(grants.UpdateGrant, given, dict(body))
    return json_response(grant_out(grants.update_grant(session, principal, grant_id, changes)))


@router.delete("/creditgrants/{grant_id}", summary="Delete (stop) a credit grant")
def delete_grant(
    grant_id: str,
    principal: Vendor,
    session: WriteSession,
    body: CreditGrantDelete | None = None,
) -> Response:
    effective = body.effective_date if body is not None else None
    grants.delete_grant(session, principal, grant_id, effective_date=effective)
    return json_response({"message": "credit grant deleted successfully"})


def upcoming_out(item: upcoming.Upcoming) -> dict[str, Any]:
    return {
        "id": None,  # not applied yet: no application row
        "credit_grant_id": item.credit_grant_id,
        "subscription_id": item.subscription_id,
        "credits": decimal_text(item.credits),
        "period_start": iso(item.period_start),
        "period_end": iso(item.period_end),
        "scheduled_for": iso(item.period_start),
        "application_status": "pending",
        "application_reason": item.reason,
        "retry_count": 0,
        "environment_id": item.environment_id,
        "tenant_id": None,
        "status": "published",
    }


def _upcoming_response(items: list[upcoming.Upcoming]) -> Response:
    rows = [upcoming_out(u) for u in items]
    return json_response(list_envelope(rows, len(rows), 1000, 0))


@router.get("/subscriptions/{subscription_id}/grants/upcoming", summary="Upcoming grants")
def subscription_upcoming(
    subscription_id: str, principal: Vendor, session: ReadSession
) -> Response:
    return _upcoming_response(upcoming.of_subscription(session, principal, subscription_id))


@router.get("/customers/{customer_id}/grants/upcoming", summary="A customer's upcoming grants")
def customer_upcoming(customer_id: str, principal: Vendor, session: ReadSession) -> Response:
    return _upcoming_response(upcoming.of_customer(session, principal, customer_id))
