"""Routes served before FastAPI: one declaration each, one body policy, the route behind.

A few operations are too hot for FastAPI's dependency and validation machinery and the ORM
(~2 ms a request): ingest, the entitlement checks, the Kaiten usage reports and reads. Each
is declared once, as a :class:`FastRoute`:

* ``method`` and ``path``, and ``shadows``: the FastAPI endpoint of the same operation. That
  route is mounted as every other route is, it is the documented operation (the OpenAPI
  schema is FastAPI's, generated from it; a fast route adds nothing to it), and it is the one
  implementation of every refusal;
* ``parse``: the request and its body → what ``answer`` needs (msgspec, no ORM), or None;
* ``answer``: the response (orjson, no ORM), or None.

None from either **declines**: the request goes on, its body replayed, through the router
again, past the fast route, to the FastAPI route it shadows. So a fast route answers only
what it is sure of, and anything it is not sure of (a malformed body, a missing field, a
wrong type, a write it does not cover) is answered by the framework, in its words.

**The body policy**, the same for every fast route, is the framework's: a fast route sees a
body only if FastAPI would read that body as JSON, and declines every other body, so that
FastAPI applies its own rule to it. "Would read as JSON" is not a second copy of FastAPI's
content-type rule: it is a short list of header values (``JSON_CONTENT_TYPES``) that FastAPI
reads as JSON, a subset of its rule (every entry is a case of the parity tests, which send
each to both paths), plus a missing header when the shadowed route says so
(``APIRoute.strict_content_type``, read from the route itself at install). An empty body
is always declined: FastAPI's "Field required" is FastAPI's to say.

The parity tests (``tests/api/test_fastpath_parity.py``) send one table of requests per
fast route to the fast path and, with :data:`DECLINED` set on the request, to the route it
shadows, and require the same status and body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from meterline.api.http.body import replaying
from meterline.api.limits import Exemption, Slot, session_limiter, with_slot

T = TypeVar("T")

# Set on a request's scope: its fast route does not match, the router goes on to the route
# behind. Set by a fast route that declines, and by the parity tests (never by a client: a
# scope key is not a header).
DECLINED = "meterline.fastpath.declined"
# Set on a request's scope by the fast route that answers it (its name), also when its
# answer raises: tests read it to know that the fast path, not the route behind, answered.
ANSWERED = "meterline.fastpath.answered"

# Header values that FastAPI reads as JSON (maintype "application", subtype "json"); the
# fast path takes its bodies only with one of these (compared lower-cased).
JSON_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
    }
)


@dataclass(frozen=True)
class FastRoute(Generic[T]):
    """One operation served before FastAPI (see the module docstring)."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    shadows: Callable[..., Any]
    parse: Callable[[Request, bytes], T | None]
    answer: Callable[[Request, T], Awaitable[Response | None]]
    # Whether the operation has a JSON body (POST): its body passes the body policy.
    reads_body: bool = True
    # How it holds a database slot (api/limits.py): "limited" takes one before it runs;
    # "own" takes one itself, only when it needs a session; "none" never holds a session.
    slot: Slot = "limited"


def json_body(request: Request, body: bytes, strict_content_type: bool) -> bytes | None:
    """``body`` if FastAPI certainly reads it as a JSON document, else None (declined)."""
    if not body:
        return None
    content_type = request.headers.get("content-type")
    if content_type is None:
        return None if strict_content_type else body
    return body if content_type.lower() in JSON_CONTENT_TYPES else None


class _Endpoint(Generic[T]):
    """The ASGI endpoint of one fast route: answer, or hand the request on."""

    def __init__(self, route: FastRoute[T], strict_content_type: bool) -> None:
        self.route = route
        self.strict = strict_content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.route
        request = Request(scope, receive)
        body = b""
        parsed: T | None = None
        if route.reads_body:
            body = await request.body()
            document = json_body(request, body, self.strict)
            if document is not None:
                parsed = route.parse(request, document)
        else:
            parsed = route.parse(request, body)
        response = None
        if parsed is not None:
            scope[ANSWERED] = route.name  # an error the answer raises is the fast path's too
            response = await route.answer(request, parsed)
        if response is not None:
            await response(scope, receive, send)
            return
        scope.pop(ANSWERED, None)
        await _decline(scope, receive, send, body)


async def _decline(scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
    """Route the request again, past every fast route, with its body replayed."""
    replay = replaying(body, receive)
    scope[DECLINED] = True
    router = scope["app"].router
    # A route exempt from the concurrency limit takes its token itself (api/limits.py):
    # the route behind holds a session, so it runs holding one.
    limiter = session_limiter(scope)
    if limiter is None:
        await router(scope, replay, send)
    else:
        await with_slot(limiter, router, scope, replay, send)


class _Mounted(Route):
    """A fast route in the router: it matches its one method on its path, and nothing
    once declined (every other method, a 405 included, is the framework's)."""

    def __init__(self, route: FastRoute[Any], strict_content_type: bool) -> None:
        super().__init__(route.path, _Endpoint(route, strict_content_type), name=route.name)
        self.fast = route

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get(DECLINED) or scope.get("method") != self.fast.method:
            return Match.NONE, {}
        return super().matches(scope)


def shadowed_route(app: FastAPI, route: FastRoute[Any]) -> RouteContext:
    """The FastAPI route ``route`` shadows, as mounted (its path and settings after every
    ``include_router``); a declaration whose route is not mounted (or is mounted at another
    method or path) is a bug, refused at install."""
    for candidate in iter_route_contexts(app.router.routes):
        if (
            isinstance(candidate.original_route, APIRoute)
            and candidate.endpoint is route.shadows
            and candidate.path == route.path
            and route.method in (candidate.methods or ())
        ):
            return candidate
    raise LookupError(f"{route.name}: no FastAPI route {route.method} {route.path} to shadow")


def _strict(route: RouteContext) -> bool:
    value = route.strict_content_type
    if isinstance(value, DefaultPlaceholder):
        return bool(value.value)
    return bool(value)


def install(app: FastAPI, routes: Sequence[FastRoute[Any]]) -> None:
    """Mount ``routes`` ahead of every router (matching a path through FastAPI's nested
    routers costs more than the rest of a read); call after the routers are included."""
    mounted = [_Mounted(r, _strict(shadowed_route(app, r))) for r in routes]
    app.router.routes[0:0] = mounted


def exemptions(app: FastAPI) -> list[Exemption]:
    """The concurrency limiter's exemptions: the installed fast routes that do not take a
    slot before they run (api/limits.py)."""
    return [Exemption(r.method, r.path, r.slot) for r in installed(app) if r.slot != "limited"]


def installed(app: FastAPI) -> list[FastRoute[Any]]:
    """The fast routes mounted on ``app``, in matching order."""
    return [r.fast for r in app.router.routes if isinstance(r, _Mounted)]
