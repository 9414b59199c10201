"""/api/connectors: the connectors this deployment offers, and this organization's
activation and settings of each, by name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import Body, compact, scope
from meterline.licensing import connectors as service
from meterline.licensing.connectors import SettingsView
from meterline.licensing.flag_models import ConnectorActivation, ConnectorDefinition

router = APIRouter(tags=["connectors"])

# Activating and configuring a connector is the organization's own decision.
ReadConnectors = Annotated[Principal, Depends(scope("read", "organizations"))]
WriteConnectors = Annotated[Principal, Depends(scope("write", "organizations"))]


class SettingsIn(Body):
    settings: FreeObject = Field(max_length=200)


def connector_out(connector: ConnectorDefinition) -> dict[str, Any]:
    return compact(
        {
            "name": connector.name,
            "version": connector.version,
            "settings_schema": connector.settings_schema,
            "entitlement_slug": connector.entitlement_slug,
            "created_at": iso(connector.created_at),
            "updated_at": iso(connector.updated_at),
        }
    )


def activation_out(name: str, activation: ConnectorActivation) -> dict[str, Any]:
    return {"connectorName": name, "activatedAt": iso(activation.activated_at)}


def settings_out(view: SettingsView) -> dict[str, Any]:
    return {"connector_name": view.name, "settings": view.settings}


@router.get("/connectors")
def list_connectors(principal: ReadConnectors, session: ReadSession) -> Response:
    return json_response([connector_out(c) for c in service.list_connectors(session)])


@router.get("/connectors/{connectorName}")
def get_connector(connectorName: str, principal: ReadConnectors, session: ReadSession) -> Response:
    return json_response(connector_out(service.get_connector(session, connectorName)))


@router.get("/connectors/{connectorName}/state")
def get_state(connectorName: str, principal: ReadConnectors, session: ReadSession) -> Response:
    state = service.connector_state(session, principal, connectorName)
    return json_response(
        compact(
            {
                "connectorName": state.name,
                "available": state.available,
                "entitled": state.entitled,
                "activated": state.activated_at is not None,
                "activatedAt": iso(state.activated_at),
                "version": state.version,
            }
        )
    )


@router.put("/connectors/{connectorName}/activation")
def activate(connectorName: str, principal: WriteConnectors, session: WriteSession) -> Response:
    activation = service.activate(session, principal, connectorName)
    return json_response(activation_out(connectorName, activation))


@router.delete("/connectors/{connectorName}/activation", status_code=204)
def deactivate(connectorName: str, principal: WriteConnectors, session: WriteSession) -> Response:
    service.deactivate(session, principal, connectorName)
    return Response(status_code=204)


@router.get("/connectors/{connectorName}/settings/schema")
def get_settings_schema(
    connectorName: str, principal: ReadConnectors, session: ReadSession
) -> Response:
    connector = service.get_connector(session, connectorName)
    return json_response(
        {
            "connector_name": connector.name,
            "schema": connector.settings_schema,
            "version": connector.version,
        }
    )


@router.get("/connectors/{connectorName}/settings")
def get_settings(connectorName: str, principal: ReadConnectors, session: ReadSession) -> Response:
    return json_response(settings_out(service.get_settings(session, principal, connectorName)))


@router.put("/connectors/{connectorName}/settings")
def update_settings(
    connectorName: str, body: SettingsIn, principal: WriteConnectors, session: WriteSession
) -> Response:
    view = service.update_settings(session, principal, connectorName, body.settings)
    return json_response(settings_out(view))


@router.delete("/connectors/{connectorName}/settings", status_code=204)
def delete_settings(
    connectorName: str, principal: WriteConnectors, session: WriteSession
) -> Response:
    service.delete_settings(session, principal, connectorName)
    return Response(status_code=204)
