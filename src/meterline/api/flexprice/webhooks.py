"""/v1 webhooks: endpoints of the caller's environment and their delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import AppSettings, ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import Page, WireModel, list_response
from meterline.api.json import iso, json_response
from meterline.webhooks import service as webhooks
from meterline.webhooks.commands import CreateEndpoint, EndpointChanges
from meterline.webhooks.models import (
    EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)

router = APIRouter(tags=["webhooks"])


class EndpointIn(WireModel):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class EndpointUpdate(WireModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    enabled: bool | None = None


def endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "environment_id": endpoint.environment_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types or []),
        "secret": endpoint.secret,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "consecutive_failures": endpoint.consecutive_failures,
        "metadata": endpoint.metadata_ or {},
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def attempt_out(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "attempted_at": iso(attempt.attempted_at),
    }


def delivery_out(
    delivery: WebhookDelivery, message: WebhookMessage, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": message.id,
        "event_type": message.event_type,
        "payload": message.payload,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
        "attempt_log": [attempt_out(a) for a in attempts],
    }


@router.get("/webhooks/event-types")
def list_event_types(principal: Vendor) -> Response:
    return json_response({"event_types": list(EVENT_TYPES)})


@router.post("/webhooks/endpoints", status_code=201)
def create_endpoint(
    body: EndpointIn, principal: Vendor, session: WriteSession, settings: AppSettings
) -> Response:
    command = CreateEndpoint(
        url=body.url,
        event_types=None if body.event_types is None else tuple(body.event_types),
        description=body.description,
        metadata=body.metadata,
    )
    endpoint = webhooks.create_endpoint(
        session, principal, command, allow_private=settings.webhooks.allow_private
    )
    return json_response(endpoint_out(endpoint), 201)


@router.get("/webhooks/endpoints")
def list_endpoints(principal: Vendor, session: ReadSession, page: Page) -> Response:
    items, total = webhooks.list_endpoints(session, principal, limit=page.limit, offset=page.offset)
    return list_response([endpoint_out(e) for e in items], total, page)


@router.get("/webhooks/endpoints/{endpoint_id}")
def get_endpoint(endpoint_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(endpoint_out(webhooks.get_endpoint(session, principal, endpoint_id)))


@router.patch("/webhooks/endpoints/{endpoint_id}")
def update_endpoint(
    endpoint_id: str,
    body: EndpointUpdate,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    changes = EndpointChanges(
        url=body.url,
        event_types=None if body.event_types is None else tuple(body.event_types),
        description=body.description,
        metadata=body.metadata,
        enabled=body.enabled,
    )
    endpoint = webhooks.update_endpoint(
        session, principal, endpoint_id, changes, allow_private=settings.webhooks.allow_private
    )
    return json_response(endpoint_out(endpoint))


@router.post("/webhooks/endpoints/{endpoint_id}/rotate-secret")
def rotate_secret(endpoint_id: str, principal: Vendor, session: WriteSession) -> Response:
    return json_response(endpoint_out(webhooks.rotate_secret(session, principal, endpoint_id)))


@router.delete("/webhooks/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, principal: Vendor, session: WriteSession) -> Response:
    webhooks.delete_endpoint(session, principal, endpoint_id)
    return Response(status_code=204)


@router.get("/webhooks/endpoints/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: str, principal: Vendor, session: ReadSession, page: Page
) -> Response:
    rows, total = webhooks.list_deliveries(
        session, principal, endpoint_id, limit=page.limit, offset=page.offset
    )
    return list_response([delivery_out(*row) for row in rows], total, page)


@router.get("/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}")
def get_delivery(
    endpoint_id: str, delivery_id: str, principal: Vendor, session: ReadSession
) -> Response:
    found = webhooks.get_delivery(session, principal, endpoint_id, delivery_id)
    return json_response(delivery_out(*found))


@router.post("/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay", status_code=202)
def replay_delivery(
    endpoint_id: str, delivery_id: str, principal: Vendor, session: WriteSession
) -> Response:
    """Meterline extension: sends a finished delivery again (docs/webhooks.md)."""
    found = webhooks.replay_delivery(session, principal, endpoint_id, delivery_id)
    return json_response(delivery_out(*found), 202)
