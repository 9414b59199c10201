"""/v1 cost sheets: the vendor's own costs, priced by prices with entity_type COSTSHEET.

The search body is the SDK's ``CostsheetFilter``: its keys are camelCase (``costsheetIDs``,
``lookupKey``, ``queryFilter``, ``timeRangeFilter``), the page, order and expansion travel in
``queryFilter`` and the creation range in ``timeRangeFilter``. ``environmentID`` and
``tenantID`` are refused by name: a key reads its own environment only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field, model_validator
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.catalog import meter_out
from meterline.api.flexprice.common import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    SearchFilter,
    SearchSort,
    WireModel,
    list_envelope,
)
from meterline.api.flexprice.filters import refuse_expand
from meterline.api.flexprice.prices import price_out
from meterline.api.json import iso, json_response
from meterline.costs import analytics
from meterline.costs import service as costsheets
from meterline.costs.models import Costsheet
from meterline.db.base import utcnow
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.kernel.money import decimal_text

router = APIRouter(tags=["costs"])

EXPANSIONS = ("prices",)
MAX_EMBEDDED = 1000
Metadata = Field(default=None, max_length=100)
# The SDK's wire key -> its Python name, for the filters a key may not send.
REFUSED = {"environmentID": "environment_id", "tenantID": "tenant_id"}


class CostsheetIn(WireModel):
    name: str = Field(min_length=1, max_length=255)
    lookup_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Metadata


class CostsheetUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    lookup_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Metadata


class QueryFilterIn(WireModel):
    """The page of a cost sheet search (the SDK's ``QueryFilter``)."""

    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    order: str | None = Field(default=None, max_length=10)
    sort: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=20)
    expand: str | None = Field(default=None, max_length=255)


class TimeRangeIn(WireModel):
    """The creation range of a cost sheet search (the SDK's ``TimeRangeFilter``)."""

    start_time: OptionalInstant = None
    end_time: OptionalInstant = None


class CostsheetSearch(WireModel):
    costsheet_ids: list[str] | None = Field(default=None, alias="costsheetIDs", max_length=1000)
    lookup_key: str | None = Field(default=None, alias="lookupKey", max_length=255)
    name: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=20)
    filters: list[SearchFilter] | None = Field(default=None, max_length=100)
    sort: list[SearchSort] | None = Field(default=None, max_length=10)
    query_filter: QueryFilterIn = Field(default_factory=QueryFilterIn, alias="queryFilter")
    time_range_filter: TimeRangeIn | None = Field(default=None, alias="timeRangeFilter")

    @model_validator(mode="before")
    @classmethod
    def _refuse_scope(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for wire, name in REFUSED.items():
                if data.get(wire) or data.get(name):
                    raise InvalidRequest(
                        f"the filter {name} ({wire}) is not supported: a key searches its"
                        " own environment",
                        field=wire,
                        details={"reason": "unsupported_filter"},
                    )
        return data

    def searched_status(self) -> str | None:
        inner = self.query_filter.status
        if self.status and inner and self.status != inner:
            raise InvalidRequest(
                "status and queryFilter.status differ", field="status", details={"status": inner}
            )
        return self.status or inner

    def terms(self) -> dict[str, Any]:
        page, window = self.query_filter, self.time_range_filter or TimeRangeIn()
        return {
            "limit": page.limit,
            "offset": page.offset,
            "status": self.searched_status(),
            "start_time": window.start_time,
            "end_time": window.end_time,
            "filters": self.filters,
            "sort": self.sort or page.sort,
            "order": page.order,
            "ids": self.costsheet_ids,
            "lookup_key": self.lookup_key,
            "name": self.name,
        }


class CostAnalyticsIn(WireModel):
    """``GetCostAnalyticsRequest``; the items are paged by ``limit``/``offset``, the totals
    are of every item."""

    unsupported = frozenset({"include_children", "property_filters"})
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    external_customer_id: str | None = Field(default=None, min_length=1, max_length=255)
    feature_ids: list[str] | None = Field(default=None, max_length=100)
    expand: list[str] | None = Field(default=None, max_length=10)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


ITEM_EXPANSIONS = ("price", "meter")


def _optional(value: Any) -> str | None:
    return None if value is None else decimal_text(value)


def cost_item_out(
    found: analytics.CostAnalytics, item: analytics.CostItem, wanted: set[str]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "costsheet_id": found.costsheet.id,
        "price_id": item.price.id,
        "meter_id": item.meter.id,
        "meter_name": item.meter.name,
        "currency": found.currency,
        "total_quantity": decimal_text(item.quantity),
        "total_cost": decimal_text(item.cost),
        "customer_id": found.customer.id if found.customer else None,
        "external_customer_id": found.customer.external_id if found.customer else None,
        "price": price_out(item.price) if "price" in wanted else None,
        "meter": meter_out(item.meter) if "meter" in wanted else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def costsheet_out(found: Costsheet, prices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": found.id,
        "name": found.name,
        "lookup_key": found.lookup_key,
        "description": found.description,
        "metadata": found.metadata_ or {},
        "status": found.status,
        "environment_id": found.environment_id,
        "created_by": found.created_by,
        "updated_by": found.updated_by,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
        "prices": prices,
    }
    return {k: v for k, v in body.items() if v is not None}


def _rendered(session: Session, rows: list[Costsheet], with_prices: bool) -> list[dict[str, Any]]:
    if not with_prices:
        return [costsheet_out(c) for c in rows]
    prices = costsheets.prices(session, rows)
    return [costsheet_out(c, [price_out(p) for p in prices[c.id][:MAX_EMBEDDED]]) for c in rows]


@router.post("/costs", status_code=201, summary="Create a cost sheet")
def create_costsheet(body: CostsheetIn, principal: Vendor, session: WriteSession) -> Response:
    made = costsheets.create_costsheet(
        session, principal, costsheets.NewCostsheet(**body.model_dump())
    )
    return json_response({"costsheet": costsheet_out(made, [])}, 201)


@router.get("/costs/active", summary="The active (newest published) cost sheet and its prices")
def get_active_costsheet(principal: Vendor, session: ReadSession) -> Response:
    found = costsheets.active_costsheet(session, principal)
    return json_response(_rendered(session, [found], True)[0])


@router.post("/costs/analytics", summary="Cost, revenue, margin and ROI over a period")
def get_cost_analytics(
    body: CostAnalyticsIn, principal: VendorRead, session: ReadSession
) -> Response:
    wanted = refuse_expand(",".join(body.expand or []), ITEM_EXPANSIONS)
    query = analytics.CostAnalyticsQuery(
        start=body.start_time,
        end=body.end_time,
        external_customer_id=body.external_customer_id,
        feature_ids=body.feature_ids,
    )
    found = analytics.cost_analytics(session, principal, query, utcnow())
    page = found.items[body.offset : body.offset + body.limit]
    derived = found.margins
    return json_response(
        {
            "start_time": iso(found.start),
            "end_time": iso(found.end),
            "currency": found.currency,
            "total_cost": decimal_text(found.total_cost),
            "total_revenue": decimal_text(found.total_revenue),
            "margin": decimal_text(derived.margin),
            "margin_percent": _optional(derived.margin_percent),
            "roi": _optional(derived.roi),
            "roi_percent": _optional(derived.roi_percent),
            "cost_analytics": [cost_item_out(found, item, wanted) for item in page],
        }
    )


@router.post("/costs/search", summary="Search cost sheets")
def query_costsheets(
    body: CostsheetSearch, principal: VendorRead, session: ReadSession
) -> Response:
    wanted = refuse_expand(body.query_filter.expand, EXPANSIONS)
    terms = body.terms()
    found, total = costsheets.search_costsheets(session, principal, **terms)
    items = _rendered(session, found, "prices" in wanted)
    return json_response(list_envelope(items, total, terms["limit"], terms["offset"]))


@router.get("/costs/{costsheet_id}", summary="Get a cost sheet")
def get_costsheet(
    costsheet_id: str,
    principal: Vendor,
    session: ReadSession,
    expand: str | None = Query(default=None, max_length=255),
) -> Response:
    wanted = refuse_expand(expand, EXPANSIONS)
    found = costsheets.get_costsheet(session, principal, costsheet_id)
    return json_response({"costsheet": _rendered(session, [found], "prices" in wanted)[0]})


@router.put("/costs/{costsheet_id}", summary="Update a cost sheet's name, key, description")
def update_costsheet(
    costsheet_id: str, body: CostsheetUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = costsheets.CostsheetChanges(**body.model_dump())
    found = costsheets.update_costsheet(session, principal, costsheet_id, changes)
    return json_response({"costsheet": costsheet_out(found)})


@router.delete("/costs/{costsheet_id}", summary="Delete (archive) a cost sheet")
def delete_costsheet(costsheet_id: str, principal: Vendor, session: WriteSession) -> Response:
    costsheets.delete_costsheet(session, principal, costsheet_id)
    return json_response({"id": costsheet_id, "message": "costsheet deleted successfully"})
