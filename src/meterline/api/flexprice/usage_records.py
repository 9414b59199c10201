"""/v1/usage-records/search: what each subscription was billed for usage per period
(``invoicing/usage_records.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, VendorRead
from meterline.api.flexprice.common import SearchSort, decimal_text, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso
from meterline.invoicing import usage_records
from meterline.invoicing.usage_records import UsageRecord, UsageRecordQuery
from meterline.kernel.instants import OptionalInstant

router = APIRouter(tags=["Usage records"])


class UsageRecordSearch(FilterQuery):
    customer_id: str | None = Field(default=None, max_length=64)
    customer_external_id: str | None = Field(default=None, max_length=255)
    subscription_id: str | None = Field(default=None, max_length=64)
    plan_id: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=10)
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None
    synced: bool | None = None


def record_out(record: UsageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "environment_id": record.environment_id,
        "subscription_id": record.subscription_id,
        "customer_id": record.customer_id,
        "plan_id": record.plan_id,
        "currency": record.currency,
        "period_start": iso(record.period_start),
        "period_end": iso(record.period_end),
        "quantity": decimal_text(record.quantity),
        "amount": decimal_text(record.amount),
        "status": "published",
        "synced": False,
        "syncs": {},
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


@router.post("/usage-records/search", summary="Search usage records")
def search_usage_records(
    body: UsageRecordSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    sort = body.sort
    if isinstance(sort, str):
        sort = [SearchSort(field=sort, direction=body.order or "desc")] if sort else None
    q = UsageRecordQuery(
        customer_id=body.customer_id,
        customer_external_id=body.customer_external_id,
        subscription_id=body.subscription_id,
        plan_id=body.plan_id,
        currency=body.currency,
        period_start=body.period_start,
        period_end=body.period_end,
        start_time=body.start_time,
        end_time=body.end_time,
        status=body.status,
        synced=body.synced,
        filters=body.filters,
        sort=sort,
        order=body.order,
    )
    found, total = usage_records.search_usage_records(
        session, principal, q, limit=body.limit, offset=body.offset
    )
    return list_response([record_out(r) for r in found], total, body)
