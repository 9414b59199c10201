"""The usage report's ErrorEnvelope: ``{"error": {"code","message","details"}}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from meterline.api.json import json_response
from meterline.kernel.errors import DomainError, FieldProblem, RetryLater


def envelope(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status,
        headers=headers,
    )


class UsageReportErrors:
    def domain_error(self, request: Request, exc: DomainError) -> Response:
        code = exc.details.get("code") if exc.details else None
        details = {k: v for k, v in exc.details.items() if k != "code"}
        default = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            429: "too_many_requests",
        }.get(exc.status, "invalid_request")
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
        return envelope(exc.status, code or default, exc.message, details, headers)

    def invalid_input(
        self, request: Request, problems: list[FieldProblem], *, malformed: bool = False
    ) -> Response:
        details = {p.field: p.message for p in problems}
        return envelope(400, "invalid_request", "Invalid query parameters", details)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        return envelope(status, "unauthorized" if status == 401 else "error", message)
