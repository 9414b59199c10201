"""localstripe (a stateful Stripe test server) that also records the ``Idempotency-Key``
header of every request it receives, readable at ``GET /_config/idempotency_keys``: the
tests' proof that a key reaches Stripe. Run as ``python localstripe_server.py PORT``."""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web
from localstripe import server

KEYS: list[dict[str, str]] = []


@web.middleware
async def _record(request: web.Request, handler: Any) -> Any:
    key = request.headers.get("Idempotency-Key")
    if key:
        KEYS.append({"method": request.method, "path": request.path, "key": key})
    return await handler(request)


async def _keys(request: web.Request) -> web.Response:
    return web.json_response(KEYS)


def main() -> None:
    server.app.middlewares.insert(0, _record)
    server.app.router.add_get("/_config/idempotency_keys", _keys)
    sys.argv = [sys.argv[0], "--port", sys.argv[1], "--from-scratch"]
    server.start()


if __name__ == "__main__":
    main()
