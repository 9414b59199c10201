"""RFC 9457 problem details, as the Kaiten API answers them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from meterline.api.json import json_response
from meterline.api.kaiten import vocabulary
from meterline.kernel.errors import DomainError, FieldProblem, InvalidRequest, RetryLater

PROBLEM_JSON = "application/problem+json"
# The ``type`` URIs and default codes Kaiten's error factory uses.
_RFC7231 = "https://tools.ietf.org/html/rfc7231#section-"
_TYPES = {
    400: _RFC7231 + "6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: _RFC7231 + "6.5.3",
    404: _RFC7231 + "6.5.4",
    408: _RFC7231 + "6.5.7",
    409: _RFC7231 + "6.5.8",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
    503: _RFC7231 + "6.6.4",
}
_DEFAULT_CODES = {
    400: "VALIDATION",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
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
        if malformed:
            return problem(request, 400, "request body is not valid JSON")
        if any(p.location == "body" and "required" in p.message.lower() for p in problems):
            return problem(request, 400, "request body is required")
        errors = [
            {"location": p.location, "message": p.message, "value": p.value} for p in problems
        ]
        return problem(request, 422, "validation failed", errors=errors)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        return problem(request, status, message)
