"""Metadata fields: typed keys (a JSON Schema each) of instance and deployment-zone metadata.

:func:`validate_metadata` is what the instance and zone services call on every write: each
key of the metadata that an active field of the resource type declares must satisfy the
field's schema (keys no field declares are stored as given). A dry run reports the stored
rows a candidate schema would refuse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.db.rows import existing, in_environment
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest
from meterline.licensing.common import actor, flush_unique
from meterline.licensing.distribution_models import DeploymentZone, MetadataField
from meterline.licensing.models import Instance

MAX_SCHEMA_BYTES = 16_384
SAMPLES = 5


@dataclass(frozen=True)
class FieldTerms:
    resource_type: str
    key: str
    label: str
    json_schema: dict[str, Any]


@dataclass(frozen=True)
class Impact:
    count: int
    samples: list[tuple[str, str]]  # (name, slug)


def schema_validator(schema: dict[str, Any], field: str = "jsonSchema") -> Draft202012Validator:
    """A validator of ``schema``, refused with a 400 naming ``field`` when it is no schema."""
    try:
        text = json.dumps(schema, allow_nan=False)
    except ValueError as exc:  # 1e999 reads as infinity: no JSON number, nothing to store
        raise InvalidRequest(
            "the schema holds a number out of range", field=field, reason="invalid_schema"
        ) from exc
    if len(text) > MAX_SCHEMA_BYTES:
        raise InvalidRequest(
            f"the schema is larger than {MAX_SCHEMA_BYTES} bytes", field=field, reason="too_large"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(
            f"not a JSON Schema: {exc.message}", field=field, reason="invalid_schema"
        ) from exc
    return Draft202012Validator(schema)


def schema_problem(validator: Draft202012Validator, value: Any) -> str | None:
    """Why ``value`` fails the schema, or None when it satisfies it."""
    try:
        error = next(iter(validator.iter_errors(value)), None)
    except ValidationError as exc:
        return exc.message
    except Exception as exc:  # an unresolvable $ref, a bad pattern: the value cannot pass
        return f"the schema cannot be applied ({type(exc).__name__})"
    return None if error is None else error.message


def _active(session: Session, environment_id: str, resource_type: str) -> list[MetadataField]:
    return list(
        session.scalars(
            select(MetadataField).where(
                MetadataField.environment_id == environment_id,
                MetadataField.resource_type == resource_type,
                MetadataField.archived_at.is_(None),
            )
        )
    )


def validate_metadata(
    session: Session, environment_id: str, resource_type: str, metadata: dict[str, Any] | None
) -> None:
    """Refuse ``metadata`` (400 naming ``metadata.<key>``) when a value breaks its field."""
    if not metadata:
        return
    for declared in _active(session, environment_id, resource_type):
        if declared.key not in metadata:
            continue
        why = schema_problem(Draft202012Validator(declared.json_schema), metadata[declared.key])
        if why is not None:
            raise InvalidRequest(
                f"metadata.{declared.key}: {why}",
                field=f"metadata.{declared.key}",
                reason="invalid_metadata",
            )


def get_field(session: Session, principal: Principal, field_id: str) -> MetadataField:
    return existing(
        in_environment(
            session, MetadataField, principal.environment_id, MetadataField.id == field_id
        ),
        "metadata field",
        field_id,
    )


def list_fields(
    session: Session, principal: Principal, resource_type: str, limit: int, offset: int
) -> list[MetadataField]:
    """Active and archived fields, in display order (unordered ones last, oldest first)."""
    stmt = (
        select(MetadataField)
        .where(
            MetadataField.environment_id == principal.environment_id,
            MetadataField.resource_type == resource_type,
        )
        .order_by(
            MetadataField.display_order.is_(None),
            MetadataField.display_order,
            MetadataField.created_at,
            MetadataField.id,
        )
    )
    return list(session.scalars(stmt.limit(limit + 1).offset(offset)))


def _key_free(session: Session, environment_id: str, resource_type: str, key: str) -> None:
    if any(f.key == key for f in _active(session, environment_id, resource_type)):
        raise AlreadyExists(f"An active {resource_type} metadata field with the key {key} exists")


def create_field(
    session: Session, principal: Principal, terms: FieldTerms, *, display_order: int | None
) -> MetadataField:
    schema_validator(terms.json_schema)
    _key_free(session, principal.environment_id, terms.resource_type, terms.key)
    created = MetadataField(
        environment_id=principal.environment_id,
        resource_type=terms.resource_type,
        key=terms.key,
        label=terms.label,
        json_schema=terms.json_schema,
        display_order=display_order,
        created_by=actor(principal),
        updated_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the metadata field")
    return created


def update_field(
    session: Session, principal: Principal, field_id: str, terms: FieldTerms
) -> MetadataField:
    """New label and schema; ``resource_type`` and ``key`` must repeat the stored ones."""
    found = get_field(session, principal, field_id)
    if terms.resource_type != found.resource_type:
        raise InvalidRequest(
            "resourceType cannot be changed", field="resourceType", reason="immutable"
        )
    if terms.key != found.key:
        raise InvalidRequest("key cannot be changed", field="key", reason="immutable")
    schema_validator(terms.json_schema)
    found.label = terms.label
    found.json_schema = terms.json_schema
    found.updated_by = actor(principal)
    session.flush()
    return found


def archive_field(session: Session, principal: Principal, field_id: str) -> MetadataField:
    found = get_field(session, principal, field_id)
    if found.archived_at is not None:
        raise Conflict(f"The metadata field {found.key} is archived already", reason="archived")
    found.archived_at = utcnow()
    found.updated_by = actor(principal)
    session.flush()
    return found


def unarchive_field(session: Session, principal: Principal, field_id: str) -> MetadataField:
    found = get_field(session, principal, field_id)
    if found.archived_at is None:
        raise Conflict(f"The metadata field {found.key} is not archived", reason="not_archived")
    _key_free(session, principal.environment_id, found.resource_type, found.key)
    found.archived_at = None
    found.updated_by = actor(principal)
    flush_unique(session, "an active metadata field with this key")
    return found


def dry_run(
    session: Session, principal: Principal, field_id: str, json_schema: dict[str, Any]
) -> Impact:
    """How many stored rows hold a value of the field's key that ``json_schema`` refuses."""
    found = get_field(session, principal, field_id)
    validator = schema_validator(json_schema)
    model: Any = Instance if found.resource_type == "INSTANCE" else DeploymentZone
    rows = session.execute(
        select(model.name, model.slug, model.metadata_)
        .where(model.environment_id == principal.environment_id)
        .order_by(model.id)
    ).all()
    failing = [
        (name, slug)
        for name, slug, metadata in rows
        if metadata
        and found.key in metadata
        and schema_problem(validator, metadata[found.key]) is not None
    ]
    return Impact(len(failing), failing[:SAMPLES])


def reorder(session: Session, principal: Principal, field_ids: list[str]) -> None:
    """Display order = position in ``field_ids`` (each a field of the caller's environment)."""
    if len(set(field_ids)) != len(field_ids):
        raise InvalidRequest("a field is listed twice", field="ids", reason="duplicate")
    found = [get_field(session, principal, i) for i in field_ids]
    for position, row in enumerate(found):
        row.display_order = position
    session.flush()
