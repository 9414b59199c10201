"""The body pipeline: every request's body is read, bounded and checked before anything
that holds a database slot or a key lookup sees it.

In front of authentication and the concurrency limiter (``api/limits.py``):

1. The path and query string are checked (``guards.url_problem``).
2. The body is read whole into one buffer, at most ``max_body_bytes`` (a declared
   ``Content-Length`` over it is refused before a byte is read) and within
   ``body_timeout_seconds`` from the first byte awaited: a client that stalls or trickles
   is answered 408 and its connection closed, and it never held a slot.
3. The buffered bytes pass the cheap guards (NUL, lone surrogates, nesting depth).
4. The request goes on with a ``receive`` that replays the buffer as one message, so
   every route (FastAPI's parser or a fast path's ``request.body()``) reads it without a
   copy.

Each refusal is answered in the dialect of the path (``api/errors.dialect_for``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.api.errors import dialect_for
from meterline.api.http import guards
from meterline.kernel.errors import DomainError, PayloadTooLarge

_NO_BODY = {"type": "http.request", "body": b"", "more_body": False}
TICK_SECONDS = 0.25


class BodyTimedOut(Exception):
    """The body did not arrive within the timeout."""


class Watchdog:
    """Body reads in flight and their deadlines, all watched by one timer.

    A timer per request (a cancel scope, ``asyncio.timeout``) costs more than the rest of
    a small request's pipeline; here a read costs a dict entry, and one callback every
    ``TICK_SECONDS`` (only while reads are in flight) cancels the reads past their
    deadline. A deadline is therefore kept to within a tick.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.reads: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.timer: asyncio.TimerHandle | None = None

    async def run(self, read: Coroutine[Any, Any, bytes | None]) -> bytes | None:
        """``read``'s value; ``BodyTimedOut`` if it did not finish within the timeout."""
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        self.reads[task] = loop.time() + self.timeout
        if self.timer is None:
            self.timer = loop.call_later(TICK_SECONDS, self._sweep, loop)
        try:
            return await read
        except asyncio.CancelledError:
            if task not in self.expired:
                raise  # cancelled by someone else: not ours to swallow
            self.expired.discard(task)
            task.uncancel()
            raise BodyTimedOut from None
        finally:
            # Synchronously after the read: the sweep (on this loop) never sees a task
            # that has gone on to other work.
            self.reads.pop(task, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self.reads.items()):
            if deadline <= now:
                del self.reads[task]
                self.expired.add(task)
                task.cancel()
        self.timer = loop.call_later(TICK_SECONDS, self._sweep, loop) if self.reads else None


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that answers ``body``, whole, as the request's one message, and then
    hands on to ``receive`` (which can only say that the client left)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BodyPipeline:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_seconds: float,
        max_json_depth: int,
        api_max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # /api (Kaiten) has a smaller limit of its own: Kaiten answers 413 above 1 MiB.
        self.api_max_bytes = min(max_bytes, api_max_bytes or max_bytes)
        self.timeout = timeout_seconds
        self.max_depth = max_json_depth
        self.watchdog = Watchdog(timeout_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = guards.url_problem(
            scope.get("raw_path") or scope["path"].encode(), scope.get("query_string", b"")
        )
        if problem is None and "\x00" in scope["path"]:
            problem = guards.NUL_MESSAGE
        if problem is not None:
            await self._refuse(scope, send, 400, problem)
            return
        declared: bytes | None = None
        chunked = False
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            # No body announced (a GET): nothing to read or check.
            await self.app(scope, receive, send)
            return
        limit = self.api_max_bytes if scope["path"].startswith("/api/") else self.max_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, send, limit)
            return
        try:
            body = await self.watchdog.run(self._read(receive, limit))
        except BodyTimedOut:
            await self._refuse(
                scope,
                send,
                408,
                f"The request body did not arrive within {self.timeout:g} seconds",
                close=True,
            )
            return
        if body is None:
            return  # the client left mid-body: nobody is waiting for an answer
        if len(body) > limit:
            await self._too_large(scope, send, limit)
            return
        problem = guards.body_problem(body, self.max_depth) if body else None
        if problem is not None:
            await self._refuse(scope, send, 400, problem)
            return
        await self.app(scope, replaying(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None if the client left; stops once it passes the limit
        (the caller answers 413)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    return b"".join(chunks)
            if not message.get("more_body", False):
                break
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"Request body exceeds the maximum size of {limit} bytes")
        await self._refuse(scope, send, 413, error, close=True)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        reason: str | DomainError,
        *,
        close: bool = False,
    ) -> None:
        async def no_body() -> Message:
            return _NO_BODY

        request = Request(scope, no_body)
        dialect = dialect_for(scope["path"])
        if isinstance(reason, DomainError):
            response = dialect.domain_error(request, reason)
        else:
            response = dialect.http_error(request, status, reason)
        if close:
            # The rest of the body is never read: the connection cannot carry another request.
            response.headers["connection"] = "close"
        await response(scope, no_body, send)
