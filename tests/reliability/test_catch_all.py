"""No exception escapes the application: a route that fails unexpectedly (a bug) is a 500
in its path's dialect, with the request id, and the keep-alive connection stays usable.

Regression: the server's error middleware answered and then raised the exception again,
so the server logged it without a request id and closed the connection under the client.

The failing routes are added to a real application served by uvicorn over real HTTP, on
the test database: a bug is what no production route may contain on purpose.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import Response

from meterline.app import create_app
from meterline.settings import Settings
from tests.conftest import Server, serve_in_process


@pytest.fixture
def buggy(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    if server.event_store != "sql":
        pytest.skip("the catch-all does not depend on the event store")
    monkeypatch.setenv("METERLINE_BILLING_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("METERLINE_WEBHOOK_WORKER", "false")
    app = create_app(Settings(database_url=server.database_url))

    async def explode(request: Request) -> Response:
        raise RuntimeError("a bug")

    for path in ("/v1/explodes", "/api/explodes", "/v1/usage/explodes"):
        app.add_route(path, explode)
    with serve_in_process(app, log_level="critical") as port:
        yield port


def _exchange(sock: socket.socket, path: str) -> tuple[bytes, bytes]:
    request_id = f"req-{path.count('/')}{len(path)}"
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nx-request-id: {request_id}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head.lower(), body


def test_an_unexpected_error_is_a_dialect_500_on_a_live_connection(buggy: int) -> None:
    with socket.create_connection(("127.0.0.1", buggy), timeout=10) as sock:
        head, body = _exchange(sock, "/v1/explodes")
        assert head.startswith(b"http/1.1 500 ")
        assert b'"http_status_code":500' in body
        assert b"x-request-id: req-212" in head
        head, body = _exchange(sock, "/api/explodes")  # the same connection
        assert head.startswith(b"http/1.1 500 ")
        assert b"application/problem+json" in head
        assert b'"status":500' in body
        head, body = _exchange(sock, "/health")
        assert head.startswith(b"http/1.1 200 ")
