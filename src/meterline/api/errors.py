"""Every error leaves in the dialect of the surface it was asked on."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from meterline.api.flexprice.errors import FlexpriceErrors
from meterline.api.http.route_table import table_of, unknown_route_message
from meterline.api.kaiten.errors import KaitenErrors
from meterline.api.problems import ErrorDialect, FieldProblem, location_of
from meterline.api.usage_report_errors import UsageReportErrors
from meterline.kernel.errors import DomainError

FLEXPRICE = FlexpriceErrors()
KAITEN = KaitenErrors()
USAGE_REPORT = UsageReportErrors()


def dialect_for(path: str) -> ErrorDialect:
    if path == "/api" or path.startswith("/api/"):
        return KAITEN
    if path.rstrip("/") == "/v1/usage":
        return USAGE_REPORT
    return FLEXPRICE


def problems_of(exc: RequestValidationError) -> tuple[list[FieldProblem], bool]:
    problems: list[FieldProblem] = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        loc = location_of(list(err.get("loc", ())))
        value = err.get("input")
        if not isinstance(value, str | int | float | bool | type(None)):
            value = None
        problems.append(FieldProblem(loc, str(err.get("msg", "invalid value")), value))
    return problems, malformed


def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """A framework refusal in the path's dialect. The router's own 404 says the route is
    unknown; a 405 lists in ``Allow`` every method the path's routes serve
    (``api/http/route_table.py``), not just those of the first route that matched."""
    status, method, path = exc.status_code, request.method, request.url.path
    message = str(exc.detail) if exc.detail else "error"
    allow: str | None = None
    if status == 404 and exc.detail == "Not Found":
        message = unknown_route_message(method, path)
    elif status == 405:
        verdict = table_of(request.app).verdict(method, path)
        allow = ", ".join(verdict.allow) or (exc.headers or {}).get("Allow")
        message = f"Method {method} is not allowed on {path}"
        if allow:
            message += f"; allowed: {allow}"
    response = dialect_for(path).http_error(request, status, message)
    if allow:
        response.headers["Allow"] = allow
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return dialect_for(request.url.path).domain_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems, malformed = problems_of(exc)
        return dialect_for(request.url.path).invalid_input(request, problems, malformed=malformed)

    @app.exception_handler(ValidationError)
    async def _model(request: Request, exc: ValidationError) -> Response:
        # A wire model built inside a route (e.g. a list route that reuses its search body)
        # refused a query value: the client's input, so the dialect's 400, not a 500.
        problems, malformed = problems_of(RequestValidationError(exc.errors()))
        return dialect_for(request.url.path).invalid_input(request, problems, malformed=malformed)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return http_error(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette raises the exception again after this answer: api/http/catch_all.py,
        # outside, logs it once with the request id and keeps it from the server.
        return dialect_for(request.url.path).http_error(
            request, 500, "An unexpected error occurred"
        )
