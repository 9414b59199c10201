"""RFC 9457 problem details, as the Kaiten API answers them."""

from __future__ import annotations

import email.message
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from meterline.api.deps import authenticate_request
from meterline.api.json import json_response
from meterline.api.kaiten import vocabulary
from meterline.api.kaiten.platform_auth import is_platform_path, platform_principal
from meterline.kernel.errors import (
    DomainError,
    FieldProblem,
    InvalidRequest,
    RetryLater,
    Unauthenticated,
)

PROBLEM_JSON = "application/problem+json"
# The ``type`` URIs and default codes Kaiten's error factory uses.
_RFC7231 = "https://tools.ietf.org/html/rfc7231#section-"
_TYPES = {
    400: _RFC7231 + "6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: _RFC7231 + "6.5.3",
    404: _RFC7231 + "6.5.4",
    408: _RFC7231 + "6.5.7",
    405: _RFC7231 + "6.5.5",
    409: _RFC7231 + "6.5.8",
    413: _RFC7231 + "6.5.11",
    415: _RFC7231 + "6.5.13",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
    503: _RFC7231 + "6.6.4",
}
_DEFAULT_CODES = {
    400: "VALIDATION",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    503: "UNAVAILABLE",
}


def _type_of(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return _RFC7231 + ("6.6.1" if status >= 500 else "6.5.1")


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": _type_of(status),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body["code"] = code or _DEFAULT_CODES.get(status, "INTERNAL" if status >= 500 else "ERROR")
    if errors:
        body["errors"] = errors
    return json_response(body, status, headers=headers, media_type=PROBLEM_JSON)


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or any ``application/*+json``, as FastAPI reads a JSON body."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(length and length != "0") or "transfer-encoding" in request.headers


def _unauthenticated(request: Request) -> Response | None:
    """The 401 for a caller without a valid key, else None. An application without a
    database (a bare test app) authenticates nobody: nothing to say."""
    if getattr(request.app.state, "db", None) is None:
        return None
    if is_platform_path(request.url.path):
        try:
            platform_principal(request)
        except Unauthenticated as exc:
            return problem(request, exc.status, exc.message)
        except HTTPException as exc:
            return problem(request, exc.status_code, HTTPStatus(exc.status_code).phrase)
        except DomainError:
            pass
        return None
    try:
        authenticate_request(request)
    except Unauthenticated as exc:
        return problem(request, exc.status, exc.message)
    except DomainError:
        pass  # e.g. rate limited: the route's own answer, in its own order
    return None


def refusal_before_body(request: Request) -> Response | None:
    """What Kaiten answers before it looks at a refused body: 401 for a caller without a
    valid key, then 415 for a body that is not JSON. None when neither applies.

    Every body refusal of the /api routes (FastAPI's and the fast paths', which raise the
    same validation errors) passes through here, so the order holds on every route."""
    unauthenticated = _unauthenticated(request)
    if unauthenticated is not None:
        return unauthenticated
    if _has_body(request) and not _is_json(request.headers.get("content-type")):
        return problem(request, 415, "request body must be application/json")
    return None


def _location(field: str) -> str:
    head = field.partition(".")[0]
    return field if head in ("body", "query", "path", "header") else f"body.{field}"


class KaitenErrors:
    def domain_error(self, request: Request, exc: DomainError) -> Response:
        code = vocabulary.code_of(vocabulary.operation_of(request.method, request.url.path), exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
        field = vocabulary.wire_field(exc)
        message = vocabulary.message_of(exc)
        if isinstance(exc, InvalidRequest) and field:
            # A value the schema allows but the rules refuse: Kaiten answers 422 with the
            # failing location, like a schema violation.
            errors = [{"location": _location(field), "message": message, "value": None}]
            return problem(request, 422, message, code=code, errors=errors)
        return problem(request, exc.status, message, code=code, headers=headers)

    def invalid_input(
        self, request: Request, problems: list[FieldProblem], *, malformed: bool = False
    ) -> Response:
        if malformed or any(p.location.partition(".")[0] == "body" for p in problems):
            first = refusal_before_body(request)
            if first is not None:
                return first
        else:  # a refused query or path value: still 401 before 422
            unauthenticated = _unauthenticated(request)
            if unauthenticated is not None:
                return unauthenticated
        if malformed:
            return problem(request, 400, "request body is not valid JSON")
        if any(p.location == "body" and "required" in p.message.lower() for p in problems):
            return problem(request, 400, "request body is required")
        errors = [
            {"location": p.location, "message": p.message, "value": p.value} for p in problems
        ]
        return problem(request, 422, "validation failed", errors=errors)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        if status == 400 and _has_body(request):  # a body the framework could not read
            first = refusal_before_body(request)
            if first is not None:
                return first
        return problem(request, status, message)
