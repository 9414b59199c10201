"""Who calls the Platform API (``/api/platform/...``): a platform credential (``ksm_...``).

Kaiten serves the Platform API on a listener of its own, and its Core listener answers 404
to every ``/platform/*`` path. Meterline serves both on one listener, so it keeps that
contract per credential: a request with a Core key (any credential that is not ``ksm_...``)
is answered exactly as an unknown route, 404; one without a credential, or with a ``ksm_``
value that is not a live credential, is 401; one lacking the operation's scope is 403. Core routes never look at this
table, so a platform credential there is an unknown key: 401.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException

from meterline.accounts import platform
from meterline.accounts.platform import PlatformPrincipal
from meterline.api.deps import database, presented_key
from meterline.kernel.errors import PermissionDenied, Unauthenticated

PLATFORM_PATHS = "/api/platform/"


def is_platform_path(path: str) -> bool:
    return path.startswith(PLATFORM_PATHS)


def platform_principal(request: Request) -> PlatformPrincipal:
    """The request's platform credential, once per request (rate-limited once)."""
    cached: PlatformPrincipal | None = getattr(request.state, "platform_principal", None)
    if cached is not None:
        return cached
    key = presented_key(request)
    if key is None:
        raise Unauthenticated("A platform credential is required")
    if not key.startswith(platform.CREDENTIAL_PREFIX + "_"):
        raise HTTPException(status_code=404)  # as the Core listener answers /platform/*
    with database(request).read_engine.connect() as conn:
        principal = platform.authenticate(conn, key)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.acquire(principal.credential_id)
    request.state.platform_principal = principal
    return principal


def platform_scope(
    wanted: str | None,
) -> Callable[[Request], Coroutine[Any, Any, PlatformPrincipal]]:
    """A dependency: the caller's platform credential, holding ``wanted`` (any when None)."""

    async def check(request: Request) -> PlatformPrincipal:
        principal = platform_principal(request)
        if wanted is not None and not principal.may(wanted):
            raise PermissionDenied(f"This platform credential lacks the {wanted} scope")
        return principal

    return check
