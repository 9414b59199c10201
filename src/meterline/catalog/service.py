"""Features and meters: what is metered, and how events become usage.

A meter's hourly aggregates are rebuilt from the raw events whenever what it counts
changes (created, filters updated), so usage never depends on when the meter was defined
relative to its events: the request records the rebuild and the rebuild job does it
(``metering/rebuilds.py``); until then the meter's usage is read from raw events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import repository
from meterline.catalog.commands import (
    CloneFeature,
    CreateFeature,
    CreateMeter,
    FeatureChanges,
    MeterFilter,
)
from meterline.catalog.models import (
    FEATURE_TYPES,
    RESET_USAGE,
    WINDOW_SIZES,
    Feature,
    Meter,
)
from meterline.db.base import utcnow
from meterline.db.rows import existing, set_given
from meterline.groups import service as groups
from meterline.kernel.errors import AlreadyExists, InvalidRequest, NotFound
from meterline.metering import rebuilds
from meterline.metering.aggregations import AGGREGATION_TYPES, AGGREGATIONS
from meterline.webhooks import notify


def lookup_key_of(name: str) -> str:
    """``"API Calls!"`` → ``"api_calls"``: lowercase, runs of other characters become ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "feature"


def _choice(value: str | None, allowed: Sequence[str], field: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )


def _filters(given: Sequence[MeterFilter], field: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        key = item.key.strip()
        if not key:
            raise InvalidRequest(f"{field}[{index}].key is required", field=f"{field}[{index}].key")
        if not item.values:
            raise InvalidRequest(
                f"{field}[{index}].values needs at least one value",
                field=f"{field}[{index}].values",
            )
        out.append({"key": key, "values": list(item.values)})
    return out


def stored_filters(meter: Meter) -> tuple[MeterFilter, ...]:
    """A meter's filters as the command that would set them."""
    return tuple(MeterFilter(f["key"], tuple(f["values"])) for f in meter.filters or ())


def create_meter(session: Session, principal: Principal, command: CreateMeter) -> Meter:
    name, event_name = command.name, command.event_name
    aggregation_type, field = command.aggregation_type, command.field
    bucket_size, group_by = command.bucket_size, command.group_by
    if not name.strip():
        raise InvalidRequest("meter name is required", field="name")
    if not event_name.strip():
        raise InvalidRequest("event_name is required", field="event_name")
    _choice(aggregation_type, AGGREGATION_TYPES, "aggregation.type")
    _choice(bucket_size, WINDOW_SIZES, "aggregation.bucket_size")
    _choice(command.reset_usage, RESET_USAGE, "reset_usage")
    aggregation = AGGREGATIONS[aggregation_type]
    if aggregation.needs_field and not field:
        raise InvalidRequest(
            f"aggregation.field is required for {aggregation_type}", field="aggregation.field"
        )
    multiplier = command.multiplier
    if multiplier is not None and multiplier <= 0:
        raise InvalidRequest(
            "aggregation.multiplier must be greater than 0", field="aggregation.multiplier"
        )
    if aggregation.needs_multiplier and multiplier is None:
        raise InvalidRequest(
            f"aggregation.multiplier is required for {aggregation_type}",
            field="aggregation.multiplier",
        )
    if bucket_size and not aggregation.bucketable:
        allowed = " and ".join(sorted(n for n, a in AGGREGATIONS.items() if a.bucketable))
        raise InvalidRequest(
            f"aggregation.bucket_size is only allowed for {allowed}",
            field="aggregation.bucket_size",
        )
    if group_by and not (bucket_size and aggregation.groupable):
        allowed = ", ".join(sorted(n for n, a in AGGREGATIONS.items() if a.groupable))
        raise InvalidRequest(
            f"aggregation.group_by is only allowed for bucketed {allowed}",
            field="aggregation.group_by",
        )
    meter = Meter(
        environment_id=principal.environment_id,
        name=name.strip(),
        event_name=event_name.strip(),
        aggregation_type=aggregation_type,
        aggregation_field=field or None,
        aggregation_multiplier=multiplier,
        bucket_size=bucket_size,
        group_by=group_by or None,
        filters=_filters(command.filters, "filters"),
        reset_usage=command.reset_usage,
    )
    session.add(meter)
    session.flush()
    rebuilds.request(session, meter.id, meter.environment_id, utcnow())
    return meter


def get_meter(session: Session, principal: Principal, meter_id: str) -> Meter:
    meter = repository.meter(session, principal.environment_id, meter_id)
    return existing(meter, "meter", meter_id)


def list_meters(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[Sequence[Meter], int]:
    return repository.meters(session, principal.environment_id, limit, offset)


def update_meter_filters(
    session: Session, principal: Principal, meter_id: str, filters: Sequence[MeterFilter]
) -> Meter:
    """Only a meter's filters may change; its aggregates are rebuilt to match."""
    meter = get_meter(session, principal, meter_id)
    meter.filters = _filters(filters, "filters")
    session.flush()
    rebuilds.request(session, meter.id, meter.environment_id, utcnow())
    return meter


def archive_meter(
    session: Session, principal: Principal, meter_id: str, status: str = "archived"
) -> None:
    meter = get_meter(session, principal, meter_id)
    meter.status = status
    session.flush()


def create_feature(session: Session, principal: Principal, command: CreateFeature) -> Feature:
    name, kind, meter_id = command.name, command.type, command.meter_id
    if not name.strip():
        raise InvalidRequest("name is required", field="name")
    _choice(kind, FEATURE_TYPES, "type")
    if (command.unit_singular is None) != (command.unit_plural is None):
        raise InvalidRequest(
            "unit_singular and unit_plural must be set together", field="unit_plural"
        )
    key = (command.lookup_key or "").strip() or lookup_key_of(name)
    if repository.feature_by_lookup_key(session, principal.environment_id, key) is not None:
        raise AlreadyExists(
            "A feature with this lookup key already exists", details={"lookup_key": key}
        )
    if kind == "metered" and command.usage_aggregation is None:
        if meter_id and command.meter:
            raise InvalidRequest("give either meter_id or meter, not both", field="meter")
        if not meter_id and not command.meter:
            raise InvalidRequest("a metered feature needs meter_id or meter", field="meter_id")
    if meter_id:
        if get_meter(session, principal, meter_id).status != "published":
            raise InvalidRequest("the meter is not published", field="meter_id")
    elif command.meter:
        meter_id = create_meter(session, principal, command.meter).id
    group_id = None
    if command.group_id:
        group_id = groups.member_group(
            session, principal.environment_id, command.group_id, "feature"
        )
    feature = Feature(
        environment_id=principal.environment_id,
        name=name.strip(),
        lookup_key=key,
        description=command.description,
        type=kind,
        meter_id=meter_id,
        unit_singular=command.unit_singular,
        unit_plural=command.unit_plural,
        metadata_=command.metadata or {},
        usage_aggregation=command.usage_aggregation,
        usage_reset_period=command.usage_reset_period,
        usage_reset_anchor=command.usage_reset_anchor,
        group_id=group_id,
    )
    session.add(feature)
    session.flush()
    notify.feature_changed(session, feature, "created")
    return feature


def get_feature(session: Session, principal: Principal, feature_id: str) -> Feature:
    feature = repository.feature(session, principal.environment_id, feature_id)
    return existing(feature, "feature", feature_id)


def get_feature_by_lookup_key(session: Session, principal: Principal, lookup_key: str) -> Feature:
    feature = repository.feature_by_lookup_key(session, principal.environment_id, lookup_key)
    return existing(feature, "feature", lookup_key)


def meters_of(session: Session, features: Sequence[Feature]) -> dict[str, Meter]:
    return repository.features_of_meters(session, [f.meter_id for f in features if f.meter_id])


def update_feature(
    session: Session, principal: Principal, feature_id: str, changes: FeatureChanges
) -> Feature:
    feature = get_feature(session, principal, feature_id)
    if feature.status != "published":
        raise InvalidRequest("an archived feature cannot be updated")
    if changes.name is not None and not changes.name.strip():
        raise InvalidRequest("name cannot be empty", field="name")
    set_given(
        feature,
        name=changes.name,
        description=changes.description,
        metadata_=changes.metadata,
        unit_singular=changes.unit_singular,
        unit_plural=changes.unit_plural,
    )
    if changes.group_id is not None:
        feature.group_id = (
            groups.member_group(session, principal.environment_id, changes.group_id, "feature")
            if changes.group_id
            else None
        )
    if changes.filters is not None:
        if not feature.meter_id:
            raise InvalidRequest("only a metered feature has filters", field="filters")
        update_meter_filters(session, principal, feature.meter_id, changes.filters)
    session.flush()
    notify.feature_changed(session, feature, "updated")
    return feature


def archive_feature(session: Session, principal: Principal, feature_id: str) -> None:
    feature = get_feature(session, principal, feature_id)
    if feature.status != "published":
        raise NotFound("feature", feature_id)
    feature.status = "archived"
    session.flush()
    notify.feature_changed(session, feature, "deleted")


def clone_feature(
    session: Session, principal: Principal, feature_id: str, command: CloneFeature
) -> Feature:
    """A copy of a feature under a new name and key; a metered feature gets its own meter."""
    source = get_feature(session, principal, feature_id)
    meter: CreateMeter | None = None
    if source.meter_id:
        m = get_meter(session, principal, source.meter_id)
        meter = CreateMeter(
            name=command.name,
            event_name=m.event_name,
            aggregation_type=m.aggregation_type,
            field=m.aggregation_field,
            multiplier=m.aggregation_multiplier,
            bucket_size=m.bucket_size,
            group_by=m.group_by,
            filters=stored_filters(m),
            reset_usage=m.reset_usage,
        )
    description = command.description
    return create_feature(
        session,
        principal,
        CreateFeature(
            name=command.name,
            type=source.type,
            lookup_key=command.lookup_key,
            description=description if description is not None else source.description,
            meter=meter,
            unit_singular=source.unit_singular,
            unit_plural=source.unit_plural,
            metadata=command.metadata
            if command.metadata is not None
            else dict(source.metadata_ or {}),
            usage_aggregation=source.usage_aggregation,
            usage_reset_period=source.usage_reset_period,
            usage_reset_anchor=source.usage_reset_anchor,
        ),
    )


def search_features(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[Sequence[Feature], int]:
    """Features matching every filter given (``repository.FeatureQuery``)."""
    q = repository.FeatureQuery(**filters)
    return repository.search_features(session, principal.environment_id, q, limit, offset)
