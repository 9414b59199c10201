"""localstripe (a stateful Stripe test server) that also records the ``Idempotency-Key``
header of every request it receives, readable at ``GET /_config/idempotency_keys``: the
tests' proof that a key reaches Stripe. Run as ``python localstripe_server.py PORT``.

localstripe does not implement idempotent requests; this wrapper does, as Stripe documents
them: a POST with a key seen before is answered with the first answer (not run again), and
the same key with other parameters is a 400 ``idempotency_error``. A server killed after
Stripe charged and before it committed is then answered, on retry, with the first charge."""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web
from localstripe import server

KEYS: list[dict[str, str]] = []
# (method, path, key) -> (the request's body, the first answer's status, type and body)
ANSWERS: dict[tuple[str, str, str], tuple[bytes, int, str, bytes]] = {}


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


def main() -> None:
    server.app.middlewares.insert(0, _record)
    server.app.router.add_get("/_config/idempotency_keys", _keys)
    sys.argv = [sys.argv[0], "--port", sys.argv[1], "--from-scratch"]
    server.start()


if __name__ == "__main__":
    main()
