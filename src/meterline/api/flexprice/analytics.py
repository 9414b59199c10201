"""/v1 analytics: usage and cost per feature (``POST /events/analytics``) and revenue from
invoices (``POST /analytics/revenue``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints
from starlette.responses import Response

from meterline.analytics import revenue as revenue_facts
from meterline.analytics import usage as analytics
from meterline.api.deps import ReadSession, VendorRead
from meterline.api.flexprice.common import WireModel
from meterline.api.json import iso, json_response
from meterline.db.base import utcnow
from meterline.kernel.instants import Instant, OptionalInstant
from meterline.kernel.money import decimal_text

router = APIRouter(tags=["analytics"])


class UsageAnalyticsBody(WireModel):
    unsupported = frozenset(
        {"sources", "property_filters", "expand", "include_children", "breakdown_bucket"}
    )

    external_customer_id: str = Field(min_length=1, max_length=255)
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    # Validated by the usage query (a 400 naming it and the allowed sizes).
    window_size: str | None = Field(default=None, max_length=20)
    feature_ids: list[str] | None = Field(default=None, max_length=analytics.MAX_FEATURES)
    group_by: list[str] | None = Field(default=None, max_length=5)


def _item(item: analytics.Item, window: str | None) -> dict[str, Any]:
    feature, meter = item.feature, item.meter
    cost = decimal_text(item.cost)
    return {
        "feature_id": feature.id,
        "name": feature.name,
        "event_name": meter.event_name,
        "meter_id": meter.id,
        "aggregation_type": meter.aggregation_type,
        "external_customer_id": None,
        "unit": feature.unit_singular,
        "unit_plural": feature.unit_plural,
        "total_usage": decimal_text(item.usage),
        "currency": item.currency,
        "subtotal": cost,
        "total_cost": cost,
        "window_size": window,
        "subscription_id": item.subscription_id,
        "price_id": item.price_id,
        "plan_id": item.plan_id,
        "sub_line_item_id": item.line_item_id,
        "points": [
            {
                "timestamp": iso(p.start),
                "usage": decimal_text(p.usage),
                "cost": decimal_text(p.cost),
                "subtotal": decimal_text(p.cost),
            }
            for p in item.points
        ],
    }


@router.post("/events/analytics")
def get_usage_analytics(
    body: UsageAnalyticsBody, principal: VendorRead, session: ReadSession
) -> Response:
    result = analytics.usage_analytics(
        session,
        principal,
        analytics.UsageAnalyticsQuery(
            external_customer_id=body.external_customer_id,
            start=body.start_time,
            end=body.end_time,
            window=body.window_size,
            feature_ids=body.feature_ids,
            group_by=body.group_by,
        ),
        now=utcnow(),
    )
    items = []
    for item in result.items:
        out = _item(item, body.window_size)
        out["external_customer_id"] = result.external_customer_id
        items.append(out)
    total = decimal_text(result.total_cost)
    return json_response(
        {"currency": result.currency, "subtotal": total, "total_cost": total, "items": items}
    )


Ids = list[Annotated[str, StringConstraints(max_length=64)]]


class RevenueBody(WireModel):
    start_time: Instant
    end_time: OptionalInstant = None
    # Each validated by the service (a 400 naming it and the allowed values).
    granularity: str | None = Field(default=None, max_length=20)
    allocation_policy: str | None = Field(default=None, max_length=20)
    status: str | None = Field(default=None, max_length=20)
    group_by: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        default=None, max_length=6
    )
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    customer_ids: Ids | None = Field(default=None, max_length=revenue_facts.MAX_IDS)
    subscription_ids: Ids | None = Field(default=None, max_length=revenue_facts.MAX_IDS)
    price_ids: Ids | None = Field(default=None, max_length=revenue_facts.MAX_IDS)
    meter_ids: Ids | None = Field(default=None, max_length=revenue_facts.MAX_IDS)
    # Meterline has no commitments or reverts: no row is an adjustment to break out, so
    # true and false answer the same.
    include_adjustments: bool | None = None


def _revenue_row(row: revenue_facts.Row) -> dict[str, Any]:
    out: dict[str, Any] = {"group": row.group, "status": row.status, **row.amounts}
    if row.day is not None:
        out["day"] = row.day.isoformat()
    if row.period is not None:
        out["period_start"], out["period_end"] = iso(row.period[0]), iso(row.period[1])
    return out


@router.post("/analytics/revenue")
def get_revenue_analytics(
    body: RevenueBody, principal: VendorRead, session: ReadSession
) -> Response:
    found = revenue_facts.revenue(
        session,
        principal,
        revenue_facts.RevenueQuery(
            start=body.start_time,
            end=body.end_time,
            granularity=body.granularity,
            allocation_policy=body.allocation_policy,
            group_by=body.group_by or (),
            currency=body.currency,
            status=body.status,
            customer_ids=body.customer_ids,
            subscription_ids=body.subscription_ids,
            price_ids=body.price_ids,
            meter_ids=body.meter_ids,
        ),
        now=utcnow(),
    )
    query = body.model_dump(mode="json", exclude_none=True)
    # Revenue amounts are JSON numbers on this endpoint (the SDK reads floats), written as
    # the exact decimal digits.
    return json_response(
        {
            "contains_allocated": found.allocated,
            "query": query,
            "rows": [_revenue_row(r) for r in found.rows],
        }
    )
