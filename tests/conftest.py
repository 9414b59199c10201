"""Test fixtures: real servers over real HTTP, on SQLite and (when configured) PostgreSQL.

Every database test runs once per backend. ``METERLINE_TEST_POSTGRES_URL`` (set by
``.ci/run``) points at a PostgreSQL server; each test session creates its own database
there and drops it at the end, so parallel sessions never share state.

Each test gets a fresh environment and a key bound to it, so tests never see each other's
rows, and the server is started once per backend.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("METERLINE_TEST_POSTGRES_URL")
# The ClickHouse event store (in-process chdb, catalog on SQLite): METERLINE_TEST_CLICKHOUSE=1.
CLICKHOUSE = os.environ.get("METERLINE_TEST_CLICKHOUSE") == "1"
BACKENDS = (
    ["sqlite"] + (["postgres"] if POSTGRES_URL else []) + (["clickhouse"] if CLICKHOUSE else [])
)
BOOTSTRAP_KEY = "sk_test_bootstrap_" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_process(app: Any, log_level: str = "warning") -> Iterator[int]:
    """``app`` served by uvicorn on a free port, on a thread of this process (so a test can
    reach its state); yields the port, and stops the server on the way out."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level=log_level, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the in-process server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass
class Server:
    base_url: str
    database_url: str
    bootstrap_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    # "sql", or "clickhouse" for the in-process chdb store (one process only: a second
    # process, such as the `meterline bill` CLI, cannot open it while the server runs).
    event_store: str = "sql"

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"x-api-key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


@dataclass
class Tenant:
    """One environment of the server and a full-rights key bound to it."""

    server: Server
    environment_id: str
    key: str

    def client(self) -> httpx.Client:
        return self.server.client(self.key)

    def flexprice(self):  # type: ignore[no-untyped-def]
        from flexprice import Flexprice

        return Flexprice(server_url=self.server.base_url + "/v1", api_key_auth=self.key)


def _postgres_database(tmp_root: Path) -> Iterator[str]:
    assert POSTGRES_URL
    name = f"meterline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("db")
    urls = {"sqlite": f"sqlite:///{root / 'meterline.db'}"}
    if POSTGRES_URL:
        gen = _postgres_database(root)
        urls["postgres"] = next(gen)
        yield urls
        with contextlib.suppress(StopIteration):
            next(gen)
    else:
        yield urls


def start_server(
    database_url: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    start_seconds: float | None = None,
) -> Server:
    # A loaded machine (several suites at once) may take longer than a minute to start one.
    if start_seconds is None:
        start_seconds = float(os.environ.get("METERLINE_TEST_SERVER_START_SECONDS", "60"))
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    env = {
        **os.environ,
        "METERLINE_DATABASE_URL": database_url,
        "METERLINE_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
        # The billing clock inside serve is off unless a test turns it on (it would bill
        # test subscriptions with past start dates in the background, at real time).
        "METERLINE_BILLING_INTERVAL_SECONDS": "0",
        # Webhook tests deliver to a receiver on 127.0.0.1, which production refuses.
        "METERLINE_WEBHOOK_ALLOW_PRIVATE": "true",
        **(extra_env or {}),
    }
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "meterline", "serve", "--port", str(port), *extra_args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return Server(base_url, database_url, BOOTSTRAP_KEY, process, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


class Servers:
    """This session's servers, one per backend: each started the first time a test asks for
    it and kept until the session ends (a test may use several, as the fuzz run does)."""

    def __init__(
        self, database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        self._urls = database_urls
        self._tmp = tmp_path_factory
        self._started: dict[str, Server] = {}

    def get(self, backend: str) -> Server:
        if backend not in self._started:
            self._started[backend] = self._start(backend)
        return self._started[backend]

    def _start(self, backend: str) -> Server:
        logs = self._tmp.mktemp("logs")
        if backend != "clickhouse":
            return start_server(self._urls[backend], logs)
        root = self._tmp.mktemp("clickhouse")
        srv = start_server(
            f"sqlite:///{root / 'catalog.db'}",
            logs,
            {
                "METERLINE_EVENT_STORE": "clickhouse",
                "METERLINE_CLICKHOUSE_URL": f"chdb://{root}/ch",
            },
        )
        srv.event_store = "clickhouse"
        return srv

    def stop_all(self) -> None:
        for srv in self._started.values():
            stop_server(srv)


@pytest.fixture(scope="session")
def servers(
    database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    pool = Servers(database_urls, tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, servers: Servers) -> Server:
    return servers.get(request.param)


def new_tenant(server: Server) -> Tenant:
    with server.client(server.bootstrap_key) as http:
        env = http.post(
            "/v1/environments", json={"name": f"test-{uuid.uuid4().hex[:8]}", "type": "development"}
        )
        assert env.status_code == 201, env.text
        env_id = env.json()["id"]
        key = http.post("/v1/secrets/api/keys", json={"name": "test", "environment_id": env_id})
        assert key.status_code == 201, key.text
    return Tenant(server=server, environment_id=env_id, key=key.json()["api_key"])


@pytest.fixture
def tenant(server: Server) -> Tenant:
    """A fresh environment on the server, and a full-rights key bound to it."""
    return new_tenant(server)


@pytest.fixture
def http(tenant: Tenant) -> Iterator[httpx.Client]:
    with tenant.client() as client:
        yield client


@pytest.fixture
def fp(tenant: Tenant):  # type: ignore[no-untyped-def]
    with tenant.flexprice() as client:
        yield client


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# Suites that read no events: the API's wide contract matrices (every route × tenant, date,
# filter and field), the Kaiten licensing API, the dashboard and accounts, webhooks,
# payments, exports (of the SQL store, docs/exports.md) and the CLI. They run on SQLite and
# PostgreSQL; the ClickHouse event store runs every other suite (usage reads, ingest,
# pricing, invoicing, the store's own tests), where the place of the events matters.
# This keeps CI within its time budget.
STORE_INDEPENDENT_MATRICES = (
    "tests/security/test_isolation.py",
    "tests/security/test_dates.py",
    "tests/api/flexprice/test_filters.py",
    "tests/api/flexprice/test_filters_more.py",
    "tests/api/test_field_inventory.py",
    "tests/api/test_field_echo.py",
    "tests/api/test_field_readback.py",
    "tests/api/test_routes.py",
    "tests/api/kaiten/",
    "tests/licensing/",
    "tests/accounts/",
    "tests/ui/",
    "tests/webhooks/",
    "tests/payments/",
    "tests/exports/",
    "tests/cli/",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_clickhouse = callspec is not None and callspec.params.get("server") == "clickhouse"
        if on_clickhouse and item.nodeid.split("::")[0].startswith(STORE_INDEPENDENT_MATRICES):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
