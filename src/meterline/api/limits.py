"""A cheap body-size guard in front of everything: oversized bodies are refused before parsing."""

from __future__ import annotations

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.api.errors import dialect_for
from meterline.errors import PayloadTooLarge


class _TooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit. An HTTPException so
    that FastAPI's body parsing lets it through (it turns any other error into a 400) and
    the app's handler answers 413 in the dialect of the path."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body exceeds the maximum size of {max_bytes} bytes")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            # A declared length within the limit: the server never reads past it, so the
            # common case needs no wrapped receive/send.
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        error = PayloadTooLarge(f"Request body exceeds the maximum size of {self.max_bytes} bytes")
        response = dialect_for(request.url.path).domain_error(request, error)
        await response(scope, receive, send)


class ConcurrencyLimit:
    """At most ``limit`` requests hold database sessions at once; the rest wait here.

    Waiting here costs neither a worker thread nor a pooled connection, so the requests
    that do hold connections can always finish. The ingest endpoints and /health are
    exempt: they hold no session (ingest hands its rows to the writer thread).
    """

    INGEST = frozenset({"/v1/events", "/v1/events/bulk"})
    # The entitlement checks' shortcuts (api/flexprice/hot_checks.py) and the Kaiten usage
    # read (api/kaiten/usage.py) hold no session on SQLite; they take a token themselves
    # when they do need one.
    SHORTCUTS = frozenset({("GET", "/v1/customers/usage"), ("POST", "/v1/entitlements/check")})
    SCOPE_KEY = "meterline.session_limiter"

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limiter = anyio.CapacityLimiter(limit)

    def _exempt(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] == "/health":
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
        async with self.limiter:
            await self.app(scope, receive, send)


def _is_kaiten_usage(path: str) -> bool:
    """``/api/instances/{i}/entitlements/{e}/usage`` (api/kaiten/usage.py's read)."""
    return path.startswith("/api/instances/") and path.endswith("/usage") and path.count("/") == 6


def session_limiter(scope: Scope) -> anyio.CapacityLimiter | None:
    """The limiter a shortcut route takes a token of before it uses a pooled session."""
    limiter: anyio.CapacityLimiter | None = scope.get(ConcurrencyLimit.SCOPE_KEY)
    return limiter
