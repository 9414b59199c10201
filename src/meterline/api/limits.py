"""The concurrency limiter: at most ``max_concurrent_requests`` requests hold a database
slot at once, and only authenticated ones with their whole body read take one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import anyio
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from meterline.api.deps import authenticate_request, remember_failure
from meterline.api.kaiten.platform_auth import is_platform_path
from meterline.kernel.errors import DomainError

# How an operation holds a database slot: "limited" takes one before it runs (every
# operation but these); "own" takes one itself, only when it needs a session (the fast
# checks and the Kaiten usage read: no session on SQLite); "none" never holds a session
# (ingest hands its rows to the writer thread).
Slot = Literal["limited", "own", "none"]


@dataclass(frozen=True)
class Exemption:
    """An operation that takes no slot before it runs: a fast route's (api/fastpath.py)."""

    method: str
    path: str  # a route template, such as /api/instances/{instanceSlug}/...
    slot: Slot


class ConcurrencyLimit:
    """At most ``limit`` requests hold database sessions at once; the rest wait here.

    Waiting here costs neither a worker thread nor a pooled connection, so the requests
    that do hold connections can always finish. /health, /ready and the ``exempt``
    operations (the fast routes that say so, ``fastpath.exemptions``) take no slot here.

    The body pipeline in front (``api/http/body.py``) has read the whole body already, so
    a slow client never waits here holding a token. The caller is authenticated before a
    token is taken: a request without a valid key (or over its rate) goes on without
    one, and its route refuses it from the remembered failure, with no database work.
    """

    SCOPE_KEY = "meterline.session_limiter"
    HEALTH = frozenset({"/health", "/ready"})

    def __init__(self, app: ASGIApp, limit: int, exempt: Sequence[Exemption] = ()) -> None:
        self.app = app
        self.limiter = anyio.CapacityLimiter(limit)
        # A plain path is one dict lookup (ingest and the checks are the hot paths); only a
        # template with parameters is matched by its pattern.
        self.exact = {(e.method, e.path): e.slot for e in exempt if "{" not in e.path}
        self.templates = [
            (e.method, compile_path(e.path)[0], e.slot) for e in exempt if "{" in e.path
        ]

    def _exempt(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] in self.HEALTH:
            return True
        path, method = scope["path"], scope["method"]
        slot = self.exact.get((method, path))
        if slot is None:
            slot = next((s for m, p, s in self.templates if m == method and p.match(path)), None)
        if slot == "own":
            scope[self.SCOPE_KEY] = self.limiter
        return slot is not None

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


def session_limiter(scope: Scope) -> anyio.CapacityLimiter | None:
    """The limiter a shortcut route takes a token of before it uses a pooled session."""
    limiter: anyio.CapacityLimiter | None = scope.get(ConcurrencyLimit.SCOPE_KEY)
    return limiter
