"""Refuse the NUL character in paths, query strings and JSON bodies, before any route runs.

PostgreSQL cannot store U+0000 in a text value (it raises, which was a 500), SQLite
truncates at it in places, and no identifier, name or property of this API has a use for
it. Refusing it at the edge answers every route alike with a 400 in its dialect, on both
databases, instead of each column discovering it on its own.

The body is checked as it streams in, chunk by chunk (a JSON ``\\u0000`` escape may span two
chunks), so it costs one ``bytes.find`` per chunk and no copy of the body.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.api.errors import dialect_for

MESSAGE = "Text may not contain the NUL character (U+0000)"
_ESCAPE = b"\\u0000"
_TAIL = 64  # bytes of the previous chunk kept to catch an escape split across chunks


class NulRefused(HTTPException):
    # An HTTPException so that FastAPI's body parsing lets it through to the app's handler.
    def __init__(self) -> None:
        super().__init__(400, MESSAGE)


def has_nul_escape(data: bytes) -> bool:
    """Whether ``data`` (JSON text) holds a ``\\u0000`` escape that is not itself escaped."""
    start = data.find(_ESCAPE)
    while start != -1:
        backslashes = 0
        index = start - 1
        while index >= 0 and data[index] == 0x5C:  # "\\"
            backslashes += 1
            index -= 1
        if backslashes % 2 == 0:
            return True
        start = data.find(_ESCAPE, start + 1)
    return False


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            request = Request(scope, receive)
            response = dialect_for(scope["path"]).http_error(request, 400, MESSAGE)
            await response(scope, receive, send)
            return
        tail = b""

        async def checked_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    window = tail + chunk
                    if b"\x00" in chunk or has_nul_escape(window):
                        raise NulRefused
                    tail = window[-_TAIL:]
            return message

        await self.app(scope, checked_receive, send)
