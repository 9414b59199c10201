"""RFC 9457 problem details, as the Kaiten API answers them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from meterline.api.json import json_response
from meterline.api.problems import FieldProblem
from meterline.errors import Conflict, DomainError, LimitExceeded, NotFound, TooManyRequests

PROBLEM_JSON = "application/problem+json"
_TYPES = {
    400: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.1",
    401: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.2",
    403: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.4",
    404: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.5",
    405: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.6",
    409: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.10",
    413: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.14",
    422: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.21",
    429: "https://datatracker.ietf.org/doc/html/rfc6585#section-4",
    500: "https://datatracker.ietf.org/doc/html/rfc9110#section-15.6.1",
}


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
        "type": _TYPES.get(status, "about:blank"),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    return json_response(body, status, headers=headers, media_type=PROBLEM_JSON)


class KaitenErrors:
    def domain_error(self, request: Request, exc: DomainError) -> Response:
        code = getattr(exc, "code", None)
        if isinstance(exc, NotFound | Conflict | LimitExceeded) and code:
            return problem(request, exc.status, exc.message, code=code)
        headers = (
            {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        )
        errors = None
        field = exc.details.get("field") if exc.details else None
        if field:
            errors = [{"location": f"body.{field}", "message": exc.message, "value": None}]
        return problem(request, exc.status, exc.message, code=code, errors=errors, headers=headers)

    def invalid_input(
        self, request: Request, problems: list[FieldProblem], *, malformed: bool = False
    ) -> Response:
        if malformed:
            return problem(request, 400, "request body is not valid JSON")
        errors = [
            {"location": p.location, "message": p.message, "value": p.value} for p in problems
        ]
        return problem(request, 422, "validation failed", errors=errors)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        return problem(request, status, message)
