"""The outermost layer: no exception leaves the application.

Starlette's ``ServerErrorMiddleware`` renders an unexpected exception (through the app's
``Exception`` handler, in the path's dialect) and then raises it again for the server,
which logs it a second time without the request id and, if nothing was sent yet, answers
with a bare 500 of its own or drops the connection. This layer sits outside it: it logs the
exception once, with the request's id, answers a dialect-shaped 500 if no response has
started, and returns normally so the connection stays usable.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.api.errors import dialect_for
from meterline.observability import REQUEST_ID_SCOPE_KEY

log = logging.getLogger("meterline.kernel.errors")


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = scope.get(REQUEST_ID_SCOPE_KEY)
            log.exception(
                "unhandled error on %s %s",
                scope.get("method"),
                scope.get("path"),
                extra={"request_id": request_id} if request_id else None,
            )
            if started:
                return  # the answer is on its way (or was sent): nothing else to say
            response = dialect_for(scope["path"]).http_error(
                Request(scope), 500, "An unexpected error occurred"
            )
            if request_id:
                response.headers["x-request-id"] = request_id
            try:
                await response(scope, receive, send)
            except Exception:  # the client is gone: nothing to answer
                log.debug("could not send the 500", exc_info=True)
