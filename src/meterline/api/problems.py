"""What went wrong with a request, independent of the dialect that will say it."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from meterline.kernel.errors import DomainError, FieldProblem


class ErrorDialect(Protocol):
    def domain_error(self, request: Request, exc: DomainError) -> Response: ...

    def invalid_input(
        self, request: Request, problems: list[FieldProblem], *, malformed: bool = False
    ) -> Response: ...

    def http_error(self, request: Request, status: int, message: str) -> Response: ...


def location_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "events", 3, "event_name")`` → ``body.events[3].event_name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
