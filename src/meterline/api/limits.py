"""The concurrency limiter: at most ``max_concurrent_requests`` requests hold a database
slot at once, and only authenticated ones with their whole body read take one."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from meterline.api.deps import authenticate_request, remember_failure
from meterline.api.kaiten.platform_auth import is_platform_path
from meterline.kernel.errors import DomainError


class ConcurrencyLimit:
    """At most ``limit`` requests hold database sessions at once; the rest wait here.

    Waiting here costs neither a worker thread nor a pooled connection, so the requests
    that do hold connections can always finish. The ingest endpoints, /health and /ready
    are exempt: they hold no session (ingest hands its rows to the writer thread).

    The body pipeline in front (``api/http/body.py``) has read the whole body already, so
    a slow client never waits here holding a token. The caller is authenticated before a
    token is taken: a request without a valid key (or over its rate) goes on without
    one, and its route refuses it from the remembered failure, with no database work.
    """

    INGEST = frozenset({"/v1/events", "/v1/events/bulk"})
    # The entitlement checks' fast routes (api/flexprice/hot_checks.py) and the Kaiten usage
    # read (api/kaiten/usage.py) hold no session on SQLite; they take a token themselves
    # when they do need one.
    SHORTCUTS = frozenset({("GET", "/v1/customers/usage"), ("POST", "/v1/entitlements/check")})
    SCOPE_KEY = "meterline.session_limiter"
    HEALTH = frozenset({"/health", "/ready"})

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limiter = anyio.CapacityLimiter(limit)

    def _exempt(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] in self.HEALTH:
            return True
        path, method = scope["path"], scope["method"]
        if (method, path) in self.SHORTCUTS or (method == "GET" and _is_kaiten_usage(path)):
            scope[self.SCOPE_KEY] = self.limiter
            return True
        return method == "POST" and path in self.INGEST

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._exempt(scope):
            await self.app(scope, receive, send)
            return
        await with_slot(self.limiter, self.app, scope, receive, send)


AUTHENTICATED = ("/v1/", "/api/")  # every operation under these needs a key


async def with_slot(
    limiter: anyio.CapacityLimiter, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run ``app`` holding a token of ``limiter`` if the caller authenticates. A caller
    who does not (no key, a wrong or revoked one, over its rate) runs without a token:
    its route raises the remembered failure before any database work."""
    # The Platform API authenticates its own credentials (api/kaiten/platform_auth.py).
    path = scope["path"]
    if path.startswith(AUTHENTICATED) and not is_platform_path(path):
        request = Request(scope, receive)
        try:
            authenticate_request(request)
        except DomainError as exc:
            remember_failure(request, exc)
            await app(scope, receive, send)
            return
    async with limiter:
        await app(scope, receive, send)


def _is_kaiten_usage(path: str) -> bool:
    """``/api/instances/{i}/entitlements/{e}/usage`` (api/kaiten/usage.py's read)."""
    return path.startswith("/api/instances/") and path.endswith("/usage") and path.count("/") == 6


def session_limiter(scope: Scope) -> anyio.CapacityLimiter | None:
    """The limiter a shortcut route takes a token of before it uses a pooled session."""
    limiter: anyio.CapacityLimiter | None = scope.get(ConcurrencyLimit.SCOPE_KEY)
    return limiter
