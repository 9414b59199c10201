"""Event reads and usage queries (writes go through the group-commit writer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog.models import WINDOW_SIZES, Meter
from meterline.db.rows import existing, in_environment
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.kernel.instants import to_micros
from meterline.metering.aggregations import (
    AGGREGATION_TYPES,
    AGGREGATIONS,
    MeterSpec,
    filters_of,
    matches,
)
from meterline.metering.backend import session_event_store, usage_reader
from meterline.metering.query import UsageQuery, UsageResult
from meterline.metering.stores.protocol import EventStore
from meterline.metering.stores.sql_reads import EventPage, EventRange, StoredEvent

MIN_MICROS = 0


def store_for(session: Session) -> EventStore:
    return session_event_store(session)


def meter_spec(meter: Meter) -> MeterSpec:
    return MeterSpec(
        id=meter.id,
        environment_id=meter.environment_id,
        event_name=meter.event_name,
        aggregation_type=meter.aggregation_type,
        field=meter.aggregation_field,
        multiplier=meter.aggregation_multiplier,
        filters=filters_of(meter.filters),
        bucket_size=meter.bucket_size,
        group_by=meter.group_by,
    )


def get_meter(session: Session, principal: Principal, meter_id: str) -> Meter:
    meter = in_environment(session, Meter, principal.environment_id, Meter.id == meter_id)
    return existing(meter, "meter", meter_id)


@dataclass(frozen=True)
class UsageParams:
    start: datetime | None
    end: datetime | None
    customer: str | None
    window: str | None
    timezone: str | None
    billing_anchor: datetime | None
    filters: dict[str, list[str]] | None
    group_by: str | None = None


def _check_window(value: str | None, field: str) -> None:
    if value is not None and value not in WINDOW_SIZES:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(WINDOW_SIZES)}",
            field=field,
            details={"allowed_values": list(WINDOW_SIZES), "provided_value": value},
        )


def _check_timezone(value: str | None) -> None:
    if not value:
        return
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except (KeyError, ValueError) as exc:
        raise InvalidRequest("timezone must be an IANA time zone name", field="timezone") from exc


def _run(
    session: Session, spec: MeterSpec, params: UsageParams, *, raw: bool = False
) -> UsageResult:
    _check_window(params.window, "window_size")
    _check_timezone(params.timezone)
    start = to_micros(params.start) if params.start else MIN_MICROS
    end = to_micros(params.end) if params.end else to_micros(datetime.now().astimezone())
    if params.start and params.end and end <= start:
        raise InvalidRequest("end_time must be after start_time", field="end_time")
    query = UsageQuery(
        meter=spec,
        start=start,
        end=end,
        customer=params.customer,
        window=params.window,
        timezone=params.timezone,
        billing_anchor=params.billing_anchor,
        filters=filters_of(params.filters),
        group_by=params.group_by,
    )
    reader = usage_reader(session)
    if raw:
        return reader.query_raw(session.connection(), query)
    return reader.query(session.connection(), query)


def usage_by_meter(
    session: Session,
    principal: Principal,
    meter_id: str,
    params: UsageParams,
    bucket_size: str | None = None,
) -> tuple[Meter, UsageResult]:
    meter = get_meter(session, principal, meter_id)
    spec = meter_spec(meter)
    if bucket_size is not None:
        _check_window(bucket_size, "bucket_size")
        spec = MeterSpec(**{**spec.__dict__, "bucket_size": bucket_size})
    return meter, _run(session, spec, params)


def usage_statistics(
    session: Session,
    principal: Principal,
    *,
    event_name: str,
    aggregation_type: str,
    property_name: str | None,
    multiplier: Decimal | None,
    bucket_size: str | None,
    params: UsageParams,
) -> UsageResult:
    """An ad-hoc aggregation over events by name (no meter needed)."""
    aggregation = AGGREGATIONS.get(aggregation_type)
    if aggregation is None:
        raise InvalidRequest(
            "aggregation_type is not supported",
            field="aggregation_type",
            details={"allowed_values": list(AGGREGATION_TYPES), "provided_value": aggregation_type},
        )
    if aggregation.needs_field and not property_name:
        raise InvalidRequest(
            f"property_name is required for {aggregation_type}", field="property_name"
        )
    _check_window(bucket_size, "bucket_size")
    spec = MeterSpec(
        id="",
        environment_id=principal.environment_id,
        event_name=event_name,
        aggregation_type=aggregation_type,
        field=property_name,
        multiplier=multiplier,
        bucket_size=bucket_size,
    )
    # Ad-hoc aggregations have no hourly aggregates: always from raw events.
    return _run(session, spec, params, raw=True)


def list_events(
    session: Session,
    principal: Principal,
    *,
    event_name: str | None,
    customer: str | None,
    event_id: str | None,
    source: str | None,
    start: datetime | None,
    end: datetime | None,
    order_by: str,
    descending: bool,
    limit: int,
    offset: int,
    property_filters: dict[str, list[str]] | None = None,
) -> tuple[list[StoredEvent], int]:
    store = store_for(session)
    conn = session.connection()
    start_us = to_micros(start) if start else None
    end_us = to_micros(end) if end else None
    if not property_filters:
        page = EventPage(
            event_name=event_name,
            customer=customer,
            event_id=event_id,
            source=source,
            start=start_us,
            end=end_us,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        return store.page(conn, principal.environment_id, page)

    wanted = filters_of(property_filters)
    found = [
        e
        for e in store.scan(
            conn, principal.environment_id, EventRange(event_name, customer, start_us, end_us)
        )
        if matches(e.properties, wanted)
        and (event_id is None or e.event_id == event_id)
        and (source is None or e.source == source)
    ]
    key = {"event_name": lambda e: (e.event_name, e.seq), "ingested_at": lambda e: (e.seq,)}.get(
        order_by, lambda e: (e.timestamp, e.seq)
    )
    found.sort(key=key, reverse=descending)
    return found[offset : offset + limit], len(found)


def lookup_event(
    session: Session,
    principal: Principal,
    event_id: str,
    *,
    customer: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> StoredEvent:
    """The event ``event_id``; not found unless it is also of ``customer`` in [start, end)."""
    wanted = EventPage(
        event_id=event_id,
        customer=customer,
        start=to_micros(start) if start else None,
        end=to_micros(end) if end else None,
        limit=1,
    )
    events, _total = store_for(session).page(session.connection(), principal.environment_id, wanted)
    if not events:
        raise NotFound("event", event_id)
    return events[0]


def meter_usage(
    session: Session,
    meter: Meter,
    external_customer_id: str,
    start: datetime,
    end: datetime,
    *,
    aggregates_current: bool | None = None,
) -> Decimal:
    """A meter's usage for one customer over ``[start, end)`` (the hot read: aggregates).

    ``aggregates_current``: whether the meter's aggregates may be read, when the caller
    already knows (``rebuilds.current_of``); None looks it up."""
    query = UsageQuery(
        meter=meter_spec(meter),
        start=to_micros(start),
        end=to_micros(end),
        customer=external_customer_id,
        aggregates_current=aggregates_current,
    )
    return usage_reader(session).query(session.connection(), query).value
