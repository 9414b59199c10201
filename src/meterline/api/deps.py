"""Request dependencies shared by every dialect: the unit of work and the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from meterline.accounts import service as accounts
from meterline.accounts.principal import Principal
from meterline.accounts.roles import area_of
from meterline.activity import recorder
from meterline.db.engine import Database
from meterline.kernel.errors import DomainError, PermissionDenied
from meterline.observability import current_request_id
from meterline.settings import Settings


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The process's settings, as app.create_app was given them.
AppSettings = Annotated[Settings, Depends(_settings)]


def _source_of(path: str) -> str:
    if path.startswith("/api/"):
        return "licensing"
    if path.startswith("/ui"):
        return "dashboard"
    return "api"


def request_actor(request: Request) -> recorder.Actor | None:
    """Who the request acts as, once its principal is known (``None`` before)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return None
    client = request.client
    return recorder.Actor(
        environment_id=principal.environment_id,
        actor_type="user" if principal.user_id else "api_key",
        actor_id=principal.user_id or principal.key_id,
        source=_source_of(request.scope["path"]),
        request_id=current_request_id(),
        ip=client.host[:64] if client is not None else None,
        user_agent=(request.headers.get("user-agent") or "")[:255] or None,
    )


def _write_session(request: Request) -> Iterator[Session]:
    with database(request).session(write=True) as session:
        # Every write of the request lands in the activity log (activity/recorder.py).
        recorder.attach(session, lambda: request_actor(request))
        yield session


def _read_session(request: Request) -> Iterator[Session]:
    with database(request).session(write=False) as session:
        yield session


# scope="function": the transaction commits before the response is sent, so nothing is
# acknowledged that is not committed.
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]


def presented_key(request: Request) -> str | None:
    """The key from ``x-api-key`` or ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def authenticate_request(
    request: Request, resolve: Callable[[str | None], Principal] | None = None
) -> Principal:
    """The caller, once per request (rate-limited once). ``resolve`` turns the presented
    key into a principal; by default from memory where it can be (entitlements/read_model.py:
    SQLite, on the event loop), else from the database."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    failed: DomainError | None = getattr(request.state, "authentication_failure", None)
    if failed is not None:
        raise failed
    key = presented_key(request)
    if resolve is not None:
        principal = resolve(key)
    else:
        hot = getattr(request.app.state, "hot", None)
        found = hot.principal_now(key) if hot is not None else None
        if found is None:
            with database(request).read_engine.connect() as conn:
                found = accounts.authenticate(conn, key)
        principal = found
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:  # once per request: the principal is cached below
        limiter.acquire(principal.key_id)
    request.state.principal = principal
    return principal


def remember_failure(request: Request, exc: DomainError) -> None:
    """Keep why the caller was refused (``api/limits.py`` authenticates before a request
    takes a database slot): the route raises it again instead of looking the key up twice."""
    request.state.authentication_failure = exc


# The principal dependencies are ``async def`` on purpose: the key lookup is one indexed
# read (~0.1 ms on SQLite), cheaper to run on the event loop than the hop to a worker
# thread that a sync dependency costs — and the hop is what contends for the GIL with the
# ingest writer under load.


def action_of(method: str) -> str:
    """What a request does by its method: ``read`` for GET and HEAD, else ``write`` (a route
    that reads by POST, such as a search, says so with :data:`VendorRead`)."""
    return "read" if method in ("GET", "HEAD") else "write"


async def vendor_principal(request: Request) -> Principal:
    """A vendor key with the ``read:billing`` / ``write:billing`` scope the method needs."""
    path = request.scope["path"]
    return require_vendor(authenticate_request(request), action_of(request.method), path)


async def vendor_reader(request: Request) -> Principal:
    """A vendor key that may read: for the routes that read by POST (searches, usage
    queries, analytics), whose body carries the question."""
    return require_vendor(authenticate_request(request), "read", request.scope["path"])


async def vendor_writer(request: Request) -> Principal:
    """A vendor key that may write: for the routes that change state by GET (the SDK's
    portal link is made by a GET it marks as a write)."""
    return require_vendor(authenticate_request(request), "write", request.scope["path"])


def require_vendor(principal: Principal, action: str, path: str) -> Principal:
    """A key that may ``action`` (``read``/``write``) on ``path``: ``read:billing``/
    ``write:billing``, or the scope of the path's role area (``write:finance`` for
    ``/v1/invoices``…)."""
    if principal.is_customer_scoped:
        raise PermissionDenied("This key is scoped to one customer and may only read its usage")
    area = area_of(path)
    if not principal.may(action, area or "billing"):
        wanted = f"{action}:billing" + (f" or {action}:{area}" if area else "")
        raise PermissionDenied(f"This key lacks the {wanted} scope")
    return principal


async def any_principal(request: Request) -> Principal:
    return authenticate_request(request)


Vendor = Annotated[Principal, Depends(vendor_principal)]
VendorRead = Annotated[Principal, Depends(vendor_reader)]
VendorWrite = Annotated[Principal, Depends(vendor_writer)]
AnyCaller = Annotated[Principal, Depends(any_principal)]
