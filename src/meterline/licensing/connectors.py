"""Connectors: the integrations this deployment offers, and each environment's use of them.

Definitions are deployment-wide: registered by the operator (:func:`register_connector`,
the ``meterline connectors register`` command), readable by every environment. Activation
and settings belong to one environment. Meterline stores them and makes no outbound call:
the connector reads its settings through the API.

A connector gated by ``entitlement_slug`` is *entitled* for an environment when one of the
environment's published licenses grants that BOOLEAN entitlement as ``true``; only an
entitled environment may activate it (a deactivation, or settings, need no entitlement).
Settings are validated against the connector's JSON Schema on every write; the schema's
``writeOnly`` properties (secrets) are stored but never read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog.models import Feature
from meterline.db.rows import existing
from meterline.entitlements.models import Entitlement
from meterline.kernel.errors import InvalidRequest, PermissionDenied
from meterline.licensing.catalog import entitlement_types
from meterline.licensing.common import flush_unique
from meterline.licensing.flag_models import (
    ConnectorActivation,
    ConnectorDefinition,
    ConnectorSettings,
)
from meterline.licensing.metadata_fields import schema_problem, schema_validator
from meterline.licensing.models import License
from meterline.licensing.repository import LICENSE

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class ConnectorRegistration:
    name: str
    version: str
    settings_schema: dict[str, Any]
    entitlement_slug: str | None = None


def _check_registration(registration: ConnectorRegistration) -> None:
    if not NAME.match(registration.name):
        raise InvalidRequest(
            "a connector name is 1 to 100 of a-z, 0-9, '_', '.', '-'", field="name"
        )
    if not 0 < len(registration.version) <= 100:
        raise InvalidRequest("a version is 1 to 100 characters", field="version")
    slug = registration.entitlement_slug
    if slug is not None and not 0 < len(slug) <= 100:
        raise InvalidRequest("an entitlement slug is 1 to 100 characters", field="entitlement_slug")
    if not isinstance(registration.settings_schema, dict):
        raise InvalidRequest("the settings schema is a JSON object", field="settings_schema")
    schema_validator(registration.settings_schema, "settings_schema")


def register_connector(
    session: Session, registration: ConnectorRegistration
) -> ConnectorDefinition:
    """Upsert by name (deployment-wide)."""
    _check_registration(registration)
    found = session.scalars(
        select(ConnectorDefinition).where(ConnectorDefinition.name == registration.name)
    ).first()
    if found is None:
        found = ConnectorDefinition(name=registration.name)
        session.add(found)
    found.version = registration.version
    found.settings_schema = registration.settings_schema
    found.entitlement_slug = registration.entitlement_slug
    flush_unique(session, "the connector")
    return found


def list_connectors(session: Session) -> list[ConnectorDefinition]:
    return list(session.scalars(select(ConnectorDefinition).order_by(ConnectorDefinition.name)))


def find_connector(session: Session, name: str) -> ConnectorDefinition | None:
    return session.scalars(
        select(ConnectorDefinition).where(ConnectorDefinition.name == name)
    ).first()


def get_connector(session: Session, name: str) -> ConnectorDefinition:
    return existing(find_connector(session, name), "connector", name)


def _activation(
    session: Session, principal: Principal, connector: ConnectorDefinition
) -> ConnectorActivation | None:
    return session.get(ConnectorActivation, (principal.environment_id, connector.id))


def _settings(
    session: Session, principal: Principal, connector: ConnectorDefinition
) -> ConnectorSettings | None:
    return session.get(ConnectorSettings, (principal.environment_id, connector.id))


def is_entitled(session: Session, principal: Principal, connector: ConnectorDefinition) -> bool:
    """Ungated, or granted as a true BOOLEAN by a published license of the environment."""
    if connector.entitlement_slug is None:
        return True
    rows = session.execute(
        select(Entitlement, Feature)
        .join(Feature, Feature.id == Entitlement.feature_id)
        .join(License, License.id == Entitlement.entity_id)
        .where(
            Entitlement.environment_id == principal.environment_id,
            Entitlement.entity_type == LICENSE,
            Entitlement.status == "published",
            Entitlement.is_enabled.is_(True),
            Feature.lookup_key == connector.entitlement_slug,
            Feature.status == "published",
            License.lifecycle_state == "PUBLISHED",
        )
    ).all()
    features = [f for _, f in rows]
    types = entitlement_types(session, features)
    return any(types[f.id] == "BOOLEAN" for f in features)


@dataclass(frozen=True)
class ConnectorStateView:
    name: str
    available: bool
    entitled: bool
    activated_at: datetime | None
    version: str | None


def connector_state(session: Session, principal: Principal, name: str) -> ConnectorStateView:
    """Three answers a 404 could not give apart: registered, entitled, activated."""
    connector = find_connector(session, name)
    if connector is None:
        return ConnectorStateView(name, False, False, None, None)
    activation = _activation(session, principal, connector)
    return ConnectorStateView(
        name,
        True,
        is_entitled(session, principal, connector),
        activation.activated_at if activation else None,
        connector.version,
    )


def activate(session: Session, principal: Principal, name: str) -> ConnectorActivation:
    """Turn the connector on for the environment (idempotent: the first activation's time
    stays); 403 when it is gated by an entitlement no license of the environment grants."""
    connector = get_connector(session, name)
    found = _activation(session, principal, connector)
    if found is not None:
        return found
    if not is_entitled(session, principal, connector):
        raise PermissionDenied(
            f"No published license of this organization grants {connector.entitlement_slug},"
            f" which the connector {name} requires"
        )
    created = ConnectorActivation(
        environment_id=principal.environment_id, connector_id=connector.id
    )
    session.add(created)
    flush_unique(session, "the activation")
    return created


def deactivate(session: Session, principal: Principal, name: str) -> None:
    """Turn it off; 404 when it is not on."""
    connector = get_connector(session, name)
    found = existing(_activation(session, principal, connector), "connector activation", name)
    session.delete(found)
    session.flush()


def _readable(schema: Any, value: Any) -> Any:
    """``value`` without what ``schema`` marks ``writeOnly``, through nested objects."""
    if not isinstance(schema, dict) or not isinstance(value, dict):
        return value
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return value
    shown = {}
    for key, item in value.items():
        sub = properties.get(key)
        if isinstance(sub, dict) and sub.get("writeOnly") is True:
            continue
        shown[key] = _readable(sub, item)
    return shown


def _where(validator: Draft202012Validator, value: Any) -> str:
    """The dotted location of the first error in ``value``, "" when it is the whole."""
    try:
        error = next(iter(validator.iter_errors(value)), None)
    except Exception:  # the schema cannot be applied: the whole document fails
        return ""
    return "" if error is None else ".".join(str(p) for p in error.absolute_path)


@dataclass(frozen=True)
class SettingsView:
    name: str
    settings: dict[str, Any]


def get_settings(session: Session, principal: Principal, name: str) -> SettingsView:
    """The environment's settings, secrets left out; 404 when it has none."""
    connector = get_connector(session, name)
    found = existing(_settings(session, principal, connector), "connector settings", name)
    return SettingsView(name, _readable(connector.settings_schema, found.settings))


def update_settings(
    session: Session, principal: Principal, name: str, settings: dict[str, Any]
) -> SettingsView:
    """Replace the environment's settings, valid against the schema (422 naming the
    failing location under ``settings``)."""
    connector = get_connector(session, name)
    validator = schema_validator(connector.settings_schema, "settings")
    problem = schema_problem(validator, settings)
    if problem is not None:
        where = _where(validator, settings)
        raise InvalidRequest(
            f"the settings do not satisfy the connector's schema: {problem}",
            field="settings" + (f".{where}" if where else ""),
            reason="invalid_settings",
        )
    found = _settings(session, principal, connector)
    if found is None:
        found = ConnectorSettings(
            environment_id=principal.environment_id, connector_id=connector.id, settings=settings
        )
        session.add(found)
    found.settings = settings
    flush_unique(session, "the connector settings")
    return SettingsView(name, _readable(connector.settings_schema, settings))


def delete_settings(session: Session, principal: Principal, name: str) -> None:
    connector = get_connector(session, name)
    found = existing(_settings(session, principal, connector), "connector settings", name)
    session.delete(found)
    session.flush()
