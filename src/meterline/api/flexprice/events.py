"""/v1 events: raw reads and usage aggregation (ingestion is in ``ingest.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field, model_validator
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead
from meterline.api.flexprice.common import MAX_OFFSET, MAX_PAGE_SIZE, WireModel
from meterline.api.flexprice.filters import refuse_unsupported
from meterline.api.json import iso, json_response
from meterline.customers.lookup import external_id_of
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant, from_micros
from meterline.metering import service as events
from meterline.metering.aggregations import AGGREGATION_TYPES
from meterline.metering.query import UsageResult
from meterline.metering.stores.sql import StoredEvent

router = APIRouter(tags=["events"])


def event_out(event: StoredEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "event_name": event.event_name,
        "external_customer_id": event.external_customer_id,
        "customer_id": event.customer_id,
        "timestamp": iso(from_micros(event.timestamp)),
        "ingested_at": iso(from_micros(event.ingested_at)),
        "source": event.source,
        "properties": event.properties,
        "environment_id": event.environment_id,
    }


# ---- raw events ---------------------------------------------------------------------------


class EventsQuery(WireModel):
    external_customer_id: str | None = Field(default=None, max_length=255)
    event_name: str | None = Field(default=None, max_length=255)
    event_id: str | None = Field(default=None, max_length=255)
    source: str | None = Field(default=None, max_length=255)
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    property_filters: dict[str, list[str]] | None = None
    sort: str | None = None
    order: str | None = None
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    # Keyset paging (iter_first_key/iter_last_key) is not implemented: offset pages instead.
    @model_validator(mode="before")
    @classmethod
    def _refuse_keyset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            refuse_unsupported(data, ("iter_first_key", "iter_last_key"))
        return data


def _list(session: Any, principal: Any, q: EventsQuery) -> dict[str, Any]:
    found, total = events.list_events(
        session,
        principal,
        event_name=q.event_name,
        customer=q.external_customer_id,
        event_id=q.event_id,
        source=q.source,
        start=q.start_time,
        end=q.end_time,
        order_by=q.sort or "timestamp",
        descending=(q.order or "desc").lower() != "asc",
        limit=q.page_size,
        offset=q.offset,
        property_filters=q.property_filters,
    )
    return {
        "events": [event_out(e) for e in found],
        "has_more": q.offset + len(found) < total,
        "total_count": total,
        "offset": q.offset,
    }


@router.get("/events")
def list_events(
    principal: Vendor,
    session: ReadSession,
    external_customer_id: str | None = Query(default=None, max_length=255),
    event_name: str | None = Query(default=None, max_length=255),
    event_id: str | None = Query(default=None, max_length=255),
    source: str | None = Query(default=None, max_length=255),
    start_time: OptionalInstant = None,
    end_time: OptionalInstant = None,
    sort: str | None = None,
    order: str | None = None,
    page_size: int = Query(default=50, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> Any:
    q = EventsQuery(
        external_customer_id=external_customer_id,
        event_name=event_name,
        event_id=event_id,
        source=source,
        start_time=start_time,
        end_time=end_time,
        sort=sort,
        order=order,
        page_size=page_size,
        offset=offset,
    )
    return json_response(_list(session, principal, q))


@router.post("/events/query")
def query_events(body: EventsQuery, principal: Vendor, session: ReadSession) -> Any:
    return json_response(_list(session, principal, body))


@router.get("/events/lookup")
def lookup_event(
    request: Request,
    principal: Vendor,
    session: ReadSession,
    event_id: str = Query(alias="id", max_length=255),
    external_customer_id: str | None = Query(default=None, max_length=255),
    start_time: OptionalInstant = None,
    end_time: OptionalInstant = None,
) -> Any:
    found = events.lookup_event(
        session,
        principal,
        event_id,
        customer=external_customer_id or None,
        start=start_time,
        end=end_time,
    )
    return json_response({"event": event_out(found)})


# ---- usage --------------------------------------------------------------------------------


class UsageBody(WireModel):
    external_customer_id: str | None = Field(default=None, max_length=255)
    customer_id: str | None = Field(default=None, max_length=255)
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    window_size: str | None = None
    bucket_size: str | None = None
    timezone: str | None = Field(default=None, max_length=64)
    billing_anchor: OptionalInstant = None
    filters: dict[str, list[str]] | None = None
    group_by: list[str] | None = Field(default=None, max_length=1)
    group_by_property: str | None = Field(default=None, max_length=255)


class UsageByMeterBody(UsageBody):
    meter_id: str = Field(max_length=64)


class UsageStatisticsBody(UsageBody):
    event_name: str = Field(min_length=1, max_length=255)
    # Validated by the service (a 400 naming the field and the allowed values).
    aggregation_type: str = Field(json_schema_extra={"enum": list(AGGREGATION_TYPES)})
    property_name: str | None = Field(default=None, max_length=255)
    multiplier: money.Quantity | None = Field(default=None, gt=0)


def _params(session: Any, principal: Any, body: UsageBody) -> events.UsageParams:
    customer = body.external_customer_id
    if customer is None and body.customer_id:
        customer = external_id_of(session, principal, body.customer_id)
    group = body.group_by_property or (body.group_by[0] if body.group_by else None)
    return events.UsageParams(
        start=body.start_time,
        end=body.end_time,
        customer=customer,
        window=body.window_size,
        timezone=body.timezone,
        billing_anchor=body.billing_anchor,
        filters=body.filters,
        group_by=group,
    )


def usage_out(event_name: str, kind: str, result: UsageResult, window: str | None) -> Response:
    rows: list[dict[str, Any]] = [
        {"window_size": iso(from_micros(w.start)), "value": w.value} for w in result.windows
    ]
    if not window and result.buckets:
        rows = [
            {"window_size": iso(from_micros(b.start)), "value": b.value} for b in result.buckets
        ]
    body: dict[str, Any] = {
        "event_name": event_name,
        "type": kind,
        "value": result.value,
        "results": rows,
    }
    if result.groups:
        body["groups"] = [
            {
                "group": g.group,
                "value": g.value,
                "results": [
                    {"window_size": iso(from_micros(w.start)), "value": w.value} for w in g.windows
                ],
            }
            for g in result.groups
        ]
    # Usage values are JSON numbers on this endpoint (the SDK reads floats), written as the
    # exact decimal digits.
    return json_response(body)


@router.post("/events/usage/meter")
def usage_by_meter(body: UsageByMeterBody, principal: VendorRead, session: ReadSession) -> Response:
    meter, result = events.usage_by_meter(
        session, principal, body.meter_id, _params(session, principal, body), body.bucket_size
    )
    return usage_out(meter.event_name, meter.aggregation_type, result, body.window_size)


@router.post("/events/usage")
def usage_statistics(
    body: UsageStatisticsBody, principal: VendorRead, session: ReadSession
) -> Response:
    result = events.usage_statistics(
        session,
        principal,
        event_name=body.event_name,
        aggregation_type=body.aggregation_type,
        property_name=body.property_name,
        multiplier=body.multiplier,
        bucket_size=body.bucket_size,
        params=_params(session, principal, body),
    )
    return usage_out(body.event_name, body.aggregation_type, result, body.window_size)
