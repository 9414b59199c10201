"""POST /v1/events and /v1/events/bulk: the ingest hot path.

These two endpoints are plain Starlette routes, not FastAPI routes: FastAPI's dependency
and validation machinery costs more per request than parsing a hundred events with msgspec,
and on two cores that overhead, not the database, bounded ingest throughput. They keep the
same errors (the app's exception handlers apply to every route) and are documented in the
OpenAPI schema by ``OPENAPI_PATHS``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meterline.api.deps import vendor_principal
from meterline.api.errors import FLEXPRICE
from meterline.api.json import json_response
from meterline.kernel.errors import DomainError, FieldProblem
from meterline.metering import ingest
from meterline.metering.ingest import EventRow, InvalidEvents
from meterline.metering.writer import EventsRefused, IngestResult, IngestWriter

log = logging.getLogger("meterline.ingest")


def _counts(result: IngestResult) -> dict[str, str]:
    # Strings: the SDK reads ingest responses as a map of strings.
    return {
        "accepted": str(result.accepted),
        "new": str(result.new),
        "duplicates": str(result.duplicates),
    }


async def _store(request: Request, rows: Sequence[EventRow], where: str) -> IngestResult | Response:
    """The writer's answer for ``rows``, or the error response: whatever the writer raises
    is answered here in the Flexprice shape, never left to escape the app (which would
    also reset the client's connection)."""
    writer: IngestWriter = request.app.state.writer
    try:
        return await writer.submit(rows)
    except EventsRefused as exc:
        index = "" if exc.index is None or where == "body" else f"[{exc.index}]"
        return FLEXPRICE.invalid_input(request, [FieldProblem(where + index, exc.message)])
    except DomainError as exc:  # 429 queue full, 503 writer stopped
        return FLEXPRICE.domain_error(request, exc)
    except Exception:
        log.exception("ingest failed")
        return FLEXPRICE.http_error(request, 500, "An unexpected error occurred")


async def ingest_event(request: Request) -> Response:
    principal = await vendor_principal(request)
    limits = request.app.state.settings.ingest
    try:
        row = ingest.parse_single(
            await request.body(), principal.environment_id, limits.max_properties_bytes
        )
    except InvalidEvents as exc:
        return FLEXPRICE.invalid_input(request, exc.problems, malformed=exc.malformed)
    result = await _store(request, [row], "body")
    if isinstance(result, Response):
        return result
    body = {"message": "Event accepted for processing", "event_id": row.event_id, **_counts(result)}
    return json_response(body, 202)


async def ingest_bulk(request: Request) -> Response:
    principal = await vendor_principal(request)
    limits = request.app.state.settings.ingest
    try:
        rows = ingest.parse_batch(
            await request.body(),
            principal.environment_id,
            limits.max_batch_events,
            limits.max_properties_bytes,
        )
    except InvalidEvents as exc:
        return FLEXPRICE.invalid_input(request, exc.problems, malformed=exc.malformed)
    result = await _store(request, rows, "body.events")
    if isinstance(result, Response):
        return result
    return json_response({"message": "Events accepted for processing", **_counts(result)}, 202)


ROUTES = [
    Route("/v1/events", ingest_event, methods=["POST"]),
    Route("/v1/events/bulk", ingest_bulk, methods=["POST"]),
]

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_name", "external_customer_id"],
    "properties": {
        "event_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "external_customer_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "event_id": {"type": "string", "maxLength": 255, "description": "idempotency key"},
        "customer_id": {"type": "string", "maxLength": 40},
        "timestamp": {"type": "string", "format": "date-time", "description": "default: now"},
        "source": {"type": "string", "maxLength": 255},
        "properties": {
            "type": "object",
            "description": "at most 64 KiB, nesting depth at most 8",
        },
    },
}
_ACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "event_id": {"type": "string"},
        "accepted": {"type": "string"},
        "new": {"type": "string"},
        "duplicates": {"type": "string"},
    },
}
_ERROR = {"$ref": "#/components/schemas/FlexpriceError"}


def _operation(summary: str, body: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["events"],
            "summary": summary,
            "operationId": operation_id,
            "security": [{"ApiKeyAuth": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "202": {
                    "description": "Accepted: committed before this answer",
                    "content": {"application/json": {"schema": _ACK_SCHEMA}},
                },
                "400": {
                    "description": "Invalid events",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "401": {
                    "description": "No valid key",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "413": {
                    "description": "Body too large",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "429": {
                    "description": "The ingest queue is full: retry after Retry-After seconds",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "503": {
                    "description": "The ingest writer has stopped (see /health)",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    }


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/events": _operation("Ingest one event", _EVENT_SCHEMA, "ingest_event"),
    "/v1/events/bulk": _operation(
        "Ingest 1 to 1000 events in one transaction",
        {
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _EVENT_SCHEMA}
            },
        },
        "ingest_events_bulk",
    ),
}
