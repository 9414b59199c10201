"""The Flexprice error shape: ``{"code","message","http_status_code","details"}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from meterline.api.json import json_response
from meterline.kernel.errors import DomainError, FieldProblem, RetryLater

_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "already_exists",
    413: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_body(
    code: str, message: str, status: int, details: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "http_status_code": status}
    if details:
        body["details"] = details
    return body


class FlexpriceErrors:
    def domain_error(self, request: Request, exc: DomainError) -> Response:
        code = {
            "invalid_request": "validation_error",
            "invalid_operation": "invalid_operation",
            "not_found": "not_found",
            "already_exists": "already_exists",
            "conflict": "version_conflict",
            "unauthenticated": "unauthorized",
            "permission_denied": "permission_denied",
            "payload_too_large": "validation_error",
            "too_many_requests": "too_many_requests",
            "unavailable": "service_unavailable",
        }.get(exc.kind, "validation_error")
        headers = {}
        if isinstance(exc, RetryLater):
            headers["Retry-After"] = str(exc.retry_after)
        return json_response(
            error_body(code, exc.message, exc.status, exc.details), exc.status, headers=headers
        )

    def invalid_input(
        self, request: Request, problems: list[FieldProblem], *, malformed: bool = False
    ) -> Response:
        message = "Malformed JSON in request body" if malformed else "Request validation failed"
        details: dict[str, Any] = {p.field or "body": p.message for p in problems}
        return json_response(error_body("validation_error", message, 400, details), 400)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        code = _CODES.get(status, "internal_error" if status >= 500 else "validation_error")
        return json_response(error_body(code, message, status, None), status)
