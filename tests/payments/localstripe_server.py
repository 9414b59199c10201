"""localstripe (a stateful Stripe test server) that also records the ``Idempotency-Key``
header of every request it receives, readable at ``GET /_config/idempotency_keys``: the
tests' proof that a key reaches Stripe. Run as ``python localstripe_server.py PORT``.

localstripe does not implement idempotent requests; this wrapper does, as Stripe documents
them: a POST with a key seen before is answered with the first answer (not run again), and
the same key with other parameters is a 400 ``idempotency_error``. A server killed after
Stripe charged and before it committed is then answered, on retry, with the first charge."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web
from localstripe import server

KEYS: list[dict[str, str]] = []
# (method, path, key) -> (the request's body, the first answer's status, type and body)
ANSWERS: dict[tuple[str, str, str], tuple[bytes, int, str, bytes]] = {}
# Seconds to hold each first answer to a POST of this path after it was carried out (set with
# POST /_config/answer_delay {"path": ..., "seconds": ...}): the window in which a test kills
# the caller after Stripe acted and before the caller heard of it.
DELAYS: dict[str, float] = {}


@web.middleware
async def _record(request: web.Request, handler: Any) -> Any:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return await handler(request)
    KEYS.append({"method": request.method, "path": request.path, "key": key})
    if request.method != "POST":
        return await handler(request)
    body = await request.read()
    seen = ANSWERS.get((request.method, request.path, key))
    if seen is not None:
        first_body, status, content_type, answer = seen
        if first_body != body:
            error = {
                "error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same"
                    " parameters they were first used with.",
                }
            }
            return web.json_response(error, status=400)
        return web.Response(body=answer, status=status, content_type=content_type)
    response = await handler(request)
    if DELAYS.get(request.path):
        await asyncio.sleep(DELAYS[request.path])
    if response.status < 500 and isinstance(response, web.Response) and response.body:
        answer = bytes(response.body)  # type: ignore[arg-type]
        ANSWERS[(request.method, request.path, key)] = (
            body,
            response.status,
            response.content_type,
            answer,
        )
    return response


async def _keys(request: web.Request) -> web.Response:
    return web.json_response(KEYS)


async def _delay(request: web.Request) -> web.Response:
    asked = await request.json()
    DELAYS[str(asked["path"])] = float(asked["seconds"])
    return web.json_response(DELAYS)


def main() -> None:
    server.app.middlewares.insert(0, _record)
    server.app.router.add_get("/_config/idempotency_keys", _keys)
    server.app.router.add_post("/_config/answer_delay", _delay)
    sys.argv = [sys.argv[0], "--port", sys.argv[1], "--from-scratch"]
    server.start()


if __name__ == "__main__":
    main()
