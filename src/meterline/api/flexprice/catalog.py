"""/v1 features and meters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy.orm import Session

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import Page, Window, WireModel, decimal_text, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.catalog import service as catalog
from meterline.catalog.commands import (
    CloneFeature,
    CreateFeature,
    CreateMeter,
    FeatureChanges,
    MeterFilter,
)
from meterline.catalog.models import Feature, Meter
from meterline.kernel import money
from meterline.metering import rebuilds
from meterline.metering.aggregations import AGGREGATION_TYPES

router = APIRouter(tags=["features", "meters"])


class MeterFilterIn(WireModel):
    key: str = Field(min_length=1, max_length=255)
    values: list[str] = Field(min_length=1, max_length=100)

    def command(self) -> MeterFilter:
        return MeterFilter(key=self.key, values=tuple(self.values))


def filters_of(given: list[MeterFilterIn] | None) -> tuple[MeterFilter, ...]:
    return tuple(f.command() for f in given or ())


class AggregationIn(WireModel):
    # Validated by the catalog (a 400 naming the field); the enum documents the registry,
    # EARLIEST included (a Meterline extension of the Flexprice wire).
    type: str = Field(default="COUNT", json_schema_extra={"enum": list(AGGREGATION_TYPES)})
    field: str | None = Field(default=None, max_length=255)
    multiplier: money.Quantity | None = None
    bucket_size: str | None = None
    group_by: str | None = Field(default=None, max_length=255)


class MeterIn(WireModel):
    name: str = Field(min_length=1, max_length=255)
    event_name: str = Field(min_length=1, max_length=255)
    aggregation: AggregationIn
    filters: list[MeterFilterIn] | None = Field(default=None, max_length=50)
    reset_usage: str = "BILLING_PERIOD"

    def command(self) -> CreateMeter:
        return CreateMeter(
            name=self.name,
            event_name=self.event_name,
            aggregation_type=self.aggregation.type,
            field=self.aggregation.field,
            multiplier=self.aggregation.multiplier,
            bucket_size=self.aggregation.bucket_size,
            group_by=self.aggregation.group_by,
            filters=filters_of(self.filters),
            reset_usage=self.reset_usage,
        )


class MeterUpdate(WireModel):
    filters: list[MeterFilterIn] = Field(max_length=50)


class FeatureIn(WireModel):
    unsupported = frozenset({"alert_settings", "reporting_unit"})
    group_id: str | None = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    type: str
    lookup_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    meter_id: str | None = Field(default=None, max_length=64)
    meter: MeterIn | None = None
    unit_singular: str | None = Field(default=None, max_length=100)
    unit_plural: str | None = Field(default=None, max_length=100)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class FeatureUpdate(WireModel):
    unsupported = frozenset({"alert_settings", "reporting_unit"})
    group_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    unit_singular: str | None = Field(default=None, max_length=100)
    unit_plural: str | None = Field(default=None, max_length=100)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    filters: list[MeterFilterIn] | None = Field(default=None, max_length=50)

    def command(self) -> FeatureChanges:
        return FeatureChanges(
            group_id=self.group_id,
            name=self.name,
            description=self.description,
            unit_singular=self.unit_singular,
            unit_plural=self.unit_plural,
            metadata=self.metadata,
            filters=None if self.filters is None else filters_of(self.filters),
        )


class FeatureClone(WireModel):
    name: str = Field(min_length=1, max_length=255)
    lookup_key: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class FeatureSearch(FilterQuery):
    feature_ids: list[str] | None = Field(default=None, max_length=1000)
    meter_ids: list[str] | None = Field(default=None, max_length=1000)
    lookup_key: str | None = Field(default=None, max_length=255)
    lookup_keys: list[str] | None = Field(default=None, max_length=1000)
    name_contains: str | None = Field(default=None, max_length=255)


def rebuild_out(status: rebuilds.RebuildStatus | None) -> dict[str, Any]:
    """The Meterline extension ``rebuild`` of a meter: where its aggregates' rebuild is."""
    if status is None:  # a meter older than rebuild jobs: rebuilt when it was created
        return {"status": rebuilds.DONE}
    body: dict[str, Any] = {"status": status.state, "attempts": status.attempts}
    for name in ("requested_at", "started_at", "finished_at"):
        moment = getattr(status, name)
        if moment is not None:
            body[name] = iso(moment)
    if status.error and status.state != rebuilds.DONE:
        body["error"] = status.error
    return body


def one_meter_out(session: Session, meter: Meter) -> dict[str, Any]:
    """A single meter's body: with its ``rebuild`` (lists leave it out: one read per row)."""
    return {**meter_out(meter), "rebuild": rebuild_out(rebuilds.status(session, meter.id))}


def meter_out(meter: Meter) -> dict[str, Any]:
    aggregation: dict[str, Any] = {"type": meter.aggregation_type}
    if meter.aggregation_field:
        aggregation["field"] = meter.aggregation_field
    if meter.aggregation_multiplier is not None:
        aggregation["multiplier"] = decimal_text(meter.aggregation_multiplier)
    if meter.bucket_size:
        aggregation["bucket_size"] = meter.bucket_size
    if meter.group_by:
        aggregation["group_by"] = meter.group_by
    return {
        "id": meter.id,
        "name": meter.name,
        "event_name": meter.event_name,
        "aggregation": aggregation,
        "filters": meter.filters or [],
        "reset_usage": meter.reset_usage,
        "environment_id": meter.environment_id,
        "status": meter.status,
        "created_at": iso(meter.created_at),
        "updated_at": iso(meter.updated_at),
    }


def feature_out(feature: Feature, meter: Meter | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": feature.id,
        "name": feature.name,
        "lookup_key": feature.lookup_key,
        "description": feature.description or "",
        "type": feature.type,
        "meter_id": feature.meter_id or "",
        "unit_singular": feature.unit_singular or "",
        "unit_plural": feature.unit_plural or "",
        "metadata": feature.metadata_ or {},
        "group_id": feature.group_id,
        "environment_id": feature.environment_id,
        "status": feature.status,
        "created_at": iso(feature.created_at),
        "updated_at": iso(feature.updated_at),
    }
    if meter is not None:
        body["meter"] = meter_out(meter)
    return body


# ---- meters -------------------------------------------------------------------------------


@router.post("/meters", status_code=201)
def create_meter(body: MeterIn, principal: Vendor, session: WriteSession) -> Response:
    meter = catalog.create_meter(session, principal, body.command())
    return json_response(one_meter_out(session, meter), 201)


@router.get("/meters")
def list_meters(principal: Vendor, session: ReadSession, page: Page) -> Response:
    rows, total = catalog.list_meters(session, principal, page.limit, page.offset)
    return list_response([meter_out(m) for m in rows], total, page)


@router.get("/meters/{meter_id}")
def get_meter(meter_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(one_meter_out(session, catalog.get_meter(session, principal, meter_id)))


@router.put("/meters/{meter_id}")
def update_meter(
    meter_id: str, body: MeterUpdate, principal: Vendor, session: WriteSession
) -> Response:
    meter = catalog.update_meter_filters(session, principal, meter_id, filters_of(body.filters))
    return json_response(one_meter_out(session, meter))


@router.post("/meters/{meter_id}/disable")
def disable_meter(meter_id: str, principal: Vendor, session: WriteSession) -> Response:
    catalog.archive_meter(session, principal, meter_id, status="disabled")
    return json_response({"message": "Meter disabled successfully"})


@router.delete("/meters/{meter_id}")
def delete_meter(meter_id: str, principal: Vendor, session: WriteSession) -> Response:
    catalog.archive_meter(session, principal, meter_id)
    return json_response({"message": "Meter deleted successfully"})


# ---- features -----------------------------------------------------------------------------


def _one_feature(session: Any, principal: Any, feature: Feature, status: int = 200) -> Response:
    """A single feature's answer, with its meter."""
    meter = catalog.get_meter(session, principal, feature.meter_id) if feature.meter_id else None
    return json_response(feature_out(feature, meter), status)


def _features_page(session: Any, rows: Any, total: int, page: Window) -> Response:
    meters = catalog.meters_of(session, rows)
    items = [feature_out(f, meters.get(f.meter_id or "")) for f in rows]
    return list_response(items, total, page)


@router.post("/features", status_code=201)
def create_feature(body: FeatureIn, principal: Vendor, session: WriteSession) -> Response:
    feature = catalog.create_feature(
        session,
        principal,
        CreateFeature(
            name=body.name,
            type=body.type,
            lookup_key=body.lookup_key,
            description=body.description,
            meter_id=body.meter_id,
            meter=body.meter.command() if body.meter else None,
            unit_singular=body.unit_singular,
            unit_plural=body.unit_plural,
            metadata=body.metadata,
            group_id=body.group_id,
        ),
    )
    return _one_feature(session, principal, feature, 201)


@router.get("/features")
def list_features(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    status: str | None = None,
    lookup_key: str | None = Query(default=None, max_length=255),
) -> Response:
    rows, total = catalog.search_features(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        status=status,
        lookup_key=lookup_key,
    )
    return _features_page(session, rows, total, page)


@router.post("/features/search")
def search_features(body: FeatureSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    rows, total = catalog.search_features(
        session,
        principal,
        **body.terms(),
        feature_ids=body.feature_ids,
        meter_ids=body.meter_ids,
        lookup_key=body.lookup_key,
        lookup_keys=body.lookup_keys,
        name_contains=body.name_contains,
    )
    return _features_page(session, rows, total, body)


@router.get("/features/{feature_id}")
def get_feature(feature_id: str, principal: Vendor, session: ReadSession) -> Response:
    return _one_feature(session, principal, catalog.get_feature(session, principal, feature_id))


@router.put("/features/{feature_id}")
def update_feature(
    feature_id: str, body: FeatureUpdate, principal: Vendor, session: WriteSession
) -> Response:
    feature = catalog.update_feature(session, principal, feature_id, body.command())
    return _one_feature(session, principal, feature)


@router.delete("/features/{feature_id}")
def delete_feature(feature_id: str, principal: Vendor, session: WriteSession) -> Response:
    catalog.archive_feature(session, principal, feature_id)
    return json_response({"message": "feature deleted successfully"})


@router.post("/features/{feature_id}/clone", status_code=201)
def clone_feature(
    feature_id: str, body: FeatureClone, principal: Vendor, session: WriteSession
) -> Response:
    command = CloneFeature(
        name=body.name,
        lookup_key=body.lookup_key,
        description=body.description,
        metadata=body.metadata,
    )
    feature = catalog.clone_feature(session, principal, feature_id, command)
    return _one_feature(session, principal, feature, 201)
