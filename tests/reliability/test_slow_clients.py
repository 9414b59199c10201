"""Slow clients: connections that send their headers and then trickle (or stall) their
body hold no database slot, so every other caller is served meanwhile; each is answered
408 in its dialect once the body timeout passes, and its connection is closed.

Regression: 32 such connections (``max_concurrent_requests``) hung every /v1 and /api
route of every tenant, because the limiter took its token before the body was read.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, new_tenant, start_server, stop_server

TIMEOUT_SECONDS = 2


@pytest.fixture(scope="module")
def impatient(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server on the same database, with a short body timeout."""
    if server.event_store != "sql":
        pytest.skip("the request pipeline does not depend on the event store")
    logs = tmp_path_factory.mktemp("impatient")
    extra = {"METERLINE_BODY_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}
    srv = start_server(server.database_url, logs, extra)
    yield srv
    stop_server(srv)


def _trickler(server: Server, path: str, key: str) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    auth = f"x-api-key: {key}" if path.startswith("/v1") else f"Authorization: Bearer {key}"
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f'{auth}\r\nContent-Length: 1000\r\n\r\n{{"na'.encode()
    )
    return sock


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data  # closed by the server
        data += chunk


def test_trickling_bodies_hold_no_slot_and_get_408(impatient: Server) -> None:
    slow = new_tenant(impatient)
    paths = ["/v1/customers", "/api/customers"]
    socks = [_trickler(impatient, paths[i % 2], slow.key) for i in range(40)]
    try:
        time.sleep(0.3)
        for sock in socks:
            sock.sendall(b"m")  # still trickling
        other = new_tenant(impatient)
        started = time.monotonic()
        with httpx.Client(base_url=impatient.base_url, timeout=5) as http:
            listed = http.get("/v1/customers", headers={"x-api-key": other.key})
            assert listed.status_code == 200, listed.text
            kaiten = http.get("/api/customers", headers={"Authorization": f"Bearer {other.key}"})
            assert kaiten.status_code == 200, kaiten.text
            created = http.post(
                "/v1/customers",
                json={"external_id": "prompt", "name": "n"},
                headers={"x-api-key": other.key},
            )
            assert created.status_code == 201, created.text
        assert time.monotonic() - started < 5  # does not hang behind the slow bodies
        for index, sock in enumerate(socks):
            answer = _answer(sock)  # the server answers, then closes the connection
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
            assert b"connection: close" in head.lower()
            if index % 2:
                assert b"application/problem+json" in head
                assert b'"status":408' in body
            else:
                assert b'"http_status_code":408' in body
    finally:
        for sock in socks:
            sock.close()


def test_a_stalled_body_on_a_hot_path_gets_408(impatient: Server) -> None:
    tenant = new_tenant(impatient)
    sock = _trickler(impatient, "/v1/entitlements/check", tenant.key)
    with sock:
        started = time.monotonic()
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert time.monotonic() - started < TIMEOUT_SECONDS + 5


def test_a_slow_body_that_arrives_in_time_is_served(impatient: Server) -> None:
    tenant = new_tenant(impatient)
    body = b'{"external_id": "slow-but-whole", "name": "n"}'
    host, port = impatient.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(
            b"POST /v1/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"x-api-key: {tenant.key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        for start in range(0, len(body), 16):
            time.sleep(0.2)
            sock.sendall(body[start : start + 16])
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
