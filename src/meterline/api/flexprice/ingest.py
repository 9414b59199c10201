"""POST /v1/events and /v1/events/bulk: the ingest hot path.

Both are fast routes (``api/fastpath.py``): a body that msgspec decodes into valid events
(``metering/ingest.py``) is answered here, with no FastAPI machinery, which on two cores,
not the database, bounded ingest throughput. Every other body is declined to the FastAPI
routes below, which read it as FastAPI reads any body (content type, JSON, an object),
then validate it with the same parser and answer its refusal. The FastAPI routes are the
documented operations.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body
from starlette.requests import Request
from starlette.responses import Response

from meterline.accounts.principal import Principal
from meterline.api.deps import Vendor, authenticate_request, require_vendor
from meterline.api.errors import FLEXPRICE
from meterline.api.fastpath import FastRoute
from meterline.api.json import json_response
from meterline.kernel.errors import DomainError, FieldProblem
from meterline.metering import ingest
from meterline.metering.ingest import EventRow, InvalidEvents
from meterline.metering.writer import EventsRefused, IngestResult, IngestWriter

log = logging.getLogger("meterline.ingest")

router = APIRouter(tags=["events"])

Parsed = TypeVar("Parsed", EventRow, list[EventRow])


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


def _parse_one(request: Request, body: bytes, environment_id: str) -> EventRow:
    settings = request.app.state.settings.ingest
    return ingest.parse_single(body, environment_id, settings.max_properties_bytes)


def _parse_many(request: Request, body: bytes, environment_id: str) -> list[EventRow]:
    settings = request.app.state.settings.ingest
    return ingest.parse_batch(
        body, environment_id, settings.max_batch_events, settings.max_properties_bytes
    )


async def _accept_one(request: Request, row: EventRow) -> Response:
    result = await _store(request, [row], "body")
    if isinstance(result, Response):
        return result
    body = {"message": "Event accepted for processing", "event_id": row.event_id, **_counts(result)}
    return json_response(body, 202)


async def _accept_many(request: Request, rows: list[EventRow]) -> Response:
    result = await _store(request, rows, "body.events")
    if isinstance(result, Response):
        return result
    return json_response({"message": "Events accepted for processing", **_counts(result)}, 202)


# --- the fast routes ----------------------------------------------------------------------
# The body is validated before the key is looked at, as FastAPI reads a body before it
# solves the route's dependencies; the rows get their environment once the key is known.


def _caller(request: Request) -> Principal:
    """As the FastAPI routes' ``Vendor`` dependency."""
    return require_vendor(authenticate_request(request), "write", request.scope["path"])


def _fast_one(request: Request, body: bytes) -> EventRow | None:
    try:
        return _parse_one(request, body, "")
    except InvalidEvents:
        return None  # the route behind refuses it, in FastAPI's order and words


def _fast_many(request: Request, body: bytes) -> list[EventRow] | None:
    try:
        return _parse_many(request, body, "")
    except InvalidEvents:
        return None


async def _answer_one(request: Request, row: EventRow) -> Response:
    row.environment_id = _caller(request).environment_id
    return await _accept_one(request, row)


async def _answer_many(request: Request, rows: list[EventRow]) -> Response:
    environment_id = _caller(request).environment_id
    for row in rows:
        row.environment_id = environment_id
    return await _accept_many(request, rows)


# --- the FastAPI routes (documented; they answer whatever the fast routes decline) --------

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
_BULK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _EVENT_SCHEMA}
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
_ERROR = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlexpriceError"}}}
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted: committed before this answer",
        "content": {"application/json": {"schema": _ACK_SCHEMA}},
    },
    400: {"description": "Invalid events", **_ERROR},
    401: {"description": "No valid key", **_ERROR},
    413: {"description": "Body too large", **_ERROR},
    429: {"description": "The ingest queue is full: retry after Retry-After seconds", **_ERROR},
    503: {"description": "The ingest writer has stopped (see /health)", **_ERROR},
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# ``dict[str, Any]``: FastAPI reads the body (content type, JSON, an object) as for any
# route; the events in it are then validated by the same parser as on the fast path.
JsonObject = Annotated[dict[str, Any], Body()]


def _ingest_route(
    path: str, summary: str, operation_id: str, schema: dict[str, Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The documented route of an ingest operation: 202 and the ingest responses."""
    return router.post(
        path,
        summary=summary,
        operation_id=operation_id,
        status_code=202,
        responses=_RESPONSES,
        openapi_extra=_body_doc(schema),
    )


async def _ingest(
    request: Request,
    principal: Principal,
    parse: Callable[[Request, bytes, str], Parsed],
    accept: Callable[[Request, Parsed], Awaitable[Response]],
) -> Response:
    """The body parsed for the caller's environment and accepted, or its refusal."""
    try:
        parsed = parse(request, await request.body(), principal.environment_id)
    except InvalidEvents as exc:
        return FLEXPRICE.invalid_input(request, exc.problems, malformed=exc.malformed)
    return await accept(request, parsed)


@_ingest_route("/events", "Ingest one event", "ingest_event", _EVENT_SCHEMA)
async def ingest_event(request: Request, principal: Vendor, body: JsonObject) -> Response:
    return await _ingest(request, principal, _parse_one, _accept_one)


@_ingest_route(
    "/events/bulk",
    "Ingest 1 to 1000 events in one transaction",
    "ingest_events_bulk",
    _BULK_SCHEMA,
)
async def ingest_bulk(request: Request, principal: Vendor, body: JsonObject) -> Response:
    return await _ingest(request, principal, _parse_many, _accept_many)


FAST_ROUTES: list[FastRoute[Any]] = [
    FastRoute(
        "ingest_event", "POST", "/v1/events", ingest_event, _fast_one, _answer_one, slot="none"
    ),
    FastRoute(
        "ingest_bulk", "POST", "/v1/events/bulk", ingest_bulk, _fast_many, _answer_many, slot="none"
    ),
]
