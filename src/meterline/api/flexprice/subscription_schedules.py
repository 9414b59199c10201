"""/v1 subscription schedules (subscriptions/schedules.py), the line item search and a
customer's subscriptions by external id (subscriptions/lookups.py).

Included ahead of the subscriptions and customers routers: ``/subscriptions/schedules`` and
``/customers/external/{external_id}/subscriptions`` are literals where those routers have ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    PageQuery,
    WireModel,
    list_response,
    split_csv,
)
from meterline.api.flexprice.customers import customer_out
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.flexprice.plans import plan_out
from meterline.api.flexprice.subscriptions import line_item_out, subscription_out
from meterline.api.json import iso, json_response
from meterline.db.base import utcnow
from meterline.invoicing import failures
from meterline.kernel.instants import OptionalInstant
from meterline.pricing import repository as plan_repository
from meterline.subscriptions import lookups, schedules
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import SubscriptionSchedule

router = APIRouter(tags=["subscriptions"])

# What a schedule's configuration says on the wire (the staged line items stay inside).
PUBLIC_CONFIGURATION = (
    "target_plan_id",
    "from_plan_id",
    "change_type",
    "proration_behavior",
    "billing_period_behaviour",
)
DAY_SECONDS = 86_400


def _days_until(at: datetime, now: datetime) -> int:
    """Whole days until ``at``, a part of a day counting as one; 0 once it has passed."""
    seconds = (at - now).total_seconds()
    return 0 if seconds <= 0 else -(-int(seconds) // DAY_SECONDS)


def schedule_out(found: SubscriptionSchedule, now: datetime) -> dict[str, Any]:
    config = {k: v for k, v in (found.configuration or {}).items() if k in PUBLIC_CONFIGURATION}
    body: dict[str, Any] = {
        "id": found.id,
        "subscription_id": found.subscription_id,
        "schedule_type": found.schedule_type,
        "status": found.schedule_status,
        "scheduled_at": iso(found.scheduled_at),
        "executed_at": iso(found.executed_at),
        "cancelled_at": iso(found.cancelled_at),
        "error_message": found.error_message,
        "can_be_cancelled": schedules.can_be_cancelled(found, now),
        "days_until_execution": _days_until(found.scheduled_at, now),
        "configuration": config,
        "configuration_details": {
            "plan_change": {
                "target_plan_id": config.get("target_plan_id"),
                "billing_period_behaviour": config.get("billing_period_behaviour"),
            }
        },
        "metadata": found.metadata_ or {},
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
    }
    result = found.execution_result or {}
    if result:
        body["execution_result"] = result
        body["execution_details"] = {
            "plan_change": {
                "subscription_id": result.get("subscription_id"),
                "from_plan_id": result.get("from_plan_id"),
                "to_plan_id": result.get("to_plan_id"),
                "change_type": result.get("change_type"),
                "effective_date": result.get("effective_date"),
            }
        }
    return {k: v for k, v in body.items() if v is not None}


def _schedules_out(found: list[SubscriptionSchedule], count: int) -> Response:
    now = utcnow()
    return json_response({"count": count, "schedules": [schedule_out(s, now) for s in found]})


@router.get("/subscriptions/schedules", summary="List subscription schedules")
def list_all_schedules(
    principal: Vendor,
    session: ReadSession,
    pending_only: bool = False,
    subscription_id: str | None = Query(None, max_length=64),
    subscription_ids: list[str] | None = Query(None, max_length=1000),
    schedule_type: list[str] | None = Query(None, max_length=10),
    schedule_status: list[str] | None = Query(None, max_length=10),
    limit: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Response:
    """The environment's schedules, soonest first; ``count`` is how many match in all."""
    found, total = schedules.search_schedules(
        session,
        principal,
        limit=limit,
        offset=offset,
        subscription_id=subscription_id,
        subscription_ids=split_csv(subscription_ids),
        schedule_types=split_csv(schedule_type),
        schedule_statuses=split_csv(schedule_status),
        pending_only=pending_only,
    )
    return _schedules_out(found, total)


@router.get("/subscriptions/schedules/{schedule_id}", summary="Get a subscription schedule")
def get_schedule(schedule_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(
        schedule_out(schedules.get_schedule(session, principal, schedule_id), utcnow())
    )


class CancelScheduleIn(WireModel):
    """``CancelScheduleRequest``: the schedule by id (the path's, or the body's), or as the
    subscription's pending schedule of a type."""

    schedule_id: str | None = Field(default=None, max_length=64)
    subscription_id: str | None = Field(default=None, max_length=64)
    schedule_type: str | None = Field(default=None, max_length=20)


@router.post("/subscriptions/schedules/{schedule_id}/cancel", summary="Cancel a pending schedule")
def cancel_schedule(
    schedule_id: str,
    principal: Vendor,
    session: WriteSession,
    body: CancelScheduleIn | None = None,
) -> Response:
    wanted = body or CancelScheduleIn()
    found = schedules.cancel_schedule(
        session,
        principal,
        schedule_id or wanted.schedule_id,
        subscription_id=wanted.subscription_id,
        schedule_type=wanted.schedule_type,
    )
    return json_response(
        {"message": f"schedule {found.id} cancelled", "status": found.schedule_status}
    )


@router.get(
    "/subscriptions/{subscription_id}/schedules", summary="A subscription's pending schedules"
)
def subscription_schedules(
    subscription_id: str, principal: Vendor, session: ReadSession
) -> Response:
    found = schedules.pending_of_subscription(session, principal, subscription_id)
    return _schedules_out(found, len(found))


class LineItemSearch(FilterQuery):
    """``SubscriptionLineItemFilter``. Add-on associations do not exist yet: that filter is
    refused by name."""

    UNSUPPORTED = ("addon_association_ids",)

    active_filter: bool = True
    subscription_line_item_ids: list[str] | None = Field(default=None, max_length=1000)
    subscription_ids: list[str] | None = Field(default=None, max_length=1000)
    customer_ids: list[str] | None = Field(default=None, max_length=1000)
    price_ids: list[str] | None = Field(default=None, max_length=1000)
    meter_ids: list[str] | None = Field(default=None, max_length=1000)
    entity_ids: list[str] | None = Field(default=None, max_length=1000)
    entity_type: str | None = Field(default=None, max_length=20)
    currencies: list[str] | None = Field(default=None, max_length=100)
    billing_periods: list[str] | None = Field(default=None, max_length=20)
    current_period_start: OptionalInstant = None


LINE_ITEM_EXPANDS = ("price", "prices")


@router.post("/subscriptions/lineitems/search", summary="Search subscription line items")
def search_line_items(
    body: LineItemSearch, principal: VendorRead, session: ReadSession
) -> Response:
    """Line items of every subscription; by default (``active_filter``) only those that
    have not ended; ``current_period_start``: those running at that instant."""
    wanted = refuse_expand(body.expand, LINE_ITEM_EXPANDS)
    found, total = lookups.search_line_items(
        session,
        principal,
        **body.terms(),
        now=utcnow(),
        active_only=body.active_filter,
        entity_type=body.entity_type,
        line_item_ids=body.subscription_line_item_ids,
        subscription_ids=body.subscription_ids,
        customer_ids=body.customer_ids,
        price_ids=body.price_ids,
        meter_ids=body.meter_ids,
        entity_ids=body.entity_ids,
        currencies=body.currencies,
        billing_periods=body.billing_periods,
        on_at=body.current_period_start,
    )
    prices = plan_repository.prices_by_id(session, [i.price_id for i in found]) if wanted else {}
    return list_response([line_item_out(i, prices.get(i.price_id)) for i in found], total, body)


CUSTOMER_EXPANDS = ("subscription_line_items", "plan", "customer")


@router.get(
    "/customers/external/{external_id}/subscriptions",
    summary="A customer's subscriptions, by the customer's external id",
)
def subscriptions_for_customer(
    external_id: str,
    principal: Vendor,
    session: ReadSession,
    expand: str | None = Query(None, max_length=200),
) -> Response:
    """Every subscription of the customer, newest first (at most ``MAX_PAGE_SIZE``), with
    line items; ``expand`` adds the plan and the customer."""
    wanted = refuse_expand(expand, CUSTOMER_EXPANDS)
    found, total = lookups.subscriptions_of_external_customer(
        session, principal, external_id, limit=MAX_PAGE_SIZE
    )
    items = subscriptions.line_items_of(session, found)
    failed = failures.open_for_subscriptions(session, [s.id for s in found])
    plans = subscriptions.plans_of(session, found) if "plan" in wanted else {}
    out = []
    for sub in found:
        body = subscription_out(sub, items[sub.id], failure=failed.get(sub.id))
        if "plan" in wanted and sub.plan_id in plans:
            body["plan"] = plan_out(plans[sub.plan_id])
        if "customer" in wanted:
            customer = subscriptions.resolve_customer(session, principal, sub.customer_id, None)
            body["customer"] = customer_out(customer)
        out.append(body)
    return list_response(out, total, PageQuery(limit=MAX_PAGE_SIZE, offset=0))
