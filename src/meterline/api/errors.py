"""Every error leaves in the dialect of the surface it was asked on."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from meterline.api.flexprice.errors import FlexpriceErrors
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
        message = str(exc.detail) if exc.detail else "error"
        return dialect_for(request.url.path).http_error(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette raises the exception again after this answer: api/http/catch_all.py,
        # outside, logs it once with the request id and keeps it from the server.
        return dialect_for(request.url.path).http_error(
            request, 500, "An unexpected error occurred"
        )
