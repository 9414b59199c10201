"""A server with quick webhook retries, and a real HTTP receiver for its deliveries."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, Server, _postgres_database, start_server, stop_server

# Retries every 0.2 s, 0.4 s, ...; three attempts per delivery; four failures in a row
# disable an endpoint; the worker polls every 0.1 s; four attempts at once (two per tenant).
WEBHOOK_ENV = {
    "METERLINE_WEBHOOK_POLL_SECONDS": "0.1",
    "METERLINE_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "METERLINE_WEBHOOK_MAX_ATTEMPTS": "3",
    "METERLINE_WEBHOOK_DISABLE_AFTER_FAILURES": "4",
    "METERLINE_WEBHOOK_TIMEOUT_SECONDS": "5",
    "METERLINE_WEBHOOK_CONCURRENCY": "4",
    "METERLINE_BILLING_INTERVAL_SECONDS": "0",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when the request arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers each path with the scripted statuses, then 200 — after
    ``delays[path]`` seconds, or trickled a byte every ``drips[path]`` seconds."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    drips: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(
        self,
        path: str,
        count: int,
        timeout: float = 20,
        where: Callable[[Received], bool] | None = None,
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.at(path) if where is None or where(r)]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: expected {count} deliveries, got {self.at(path)}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            recv = state["r"]
            with recv.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                recv.received.append(Received(self.path, headers, body))
                script = recv.scripts.get(self.path) or []
                status = script.pop(0) if script else 200
                delay = recv.delays.get(self.path, 0.0)
                drip = recv.drips.get(self.path)
            time.sleep(delay)
            if drip is not None:
                answer = f"HTTP/1.1 {status} OK\r\ncontent-length: 2\r\n\r\nok".encode()
                try:
                    for byte in answer:
                        self.wfile.write(bytes([byte]))
                        time.sleep(drip)
                except OSError:  # the sender gave up
                    pass
                self.close_connection = True
                return
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state["r"]
    httpd.shutdown()
    httpd.server_close()


SQL_BACKENDS = [b for b in BACKENDS if b != "clickhouse"]


@contextlib.contextmanager
def webhook_server(backend: str, root: Path, env: dict[str, str]) -> Iterator[Server]:
    """A server on a database of its own (``backend``: sqlite or postgres) with ``env``."""
    if backend == "postgres":
        databases: Iterator[str] | None = _postgres_database(root)
        assert databases is not None
        url = next(databases)
    else:
        databases = None
        url = f"sqlite:///{Path(root) / 'hooks.db'}"
    server = start_server(url, root, env)
    try:
        yield server
    finally:
        stop_server(server)
        if databases is not None:
            for _ in databases:
                pass


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def hook_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with webhook_server(request.param, tmp_path_factory.mktemp("webhooks"), WEBHOOK_ENV) as s:
        yield s
