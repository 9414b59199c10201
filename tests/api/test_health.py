"""``/health`` says whether the database answers, ``/ready`` whether the process can
serve; both answer 503 once the database is gone.

Regression: ``/health`` answered ``{"status":"ok"}`` whatever the database did, and there
was no ``/ready``, so a load balancer kept sending traffic to a process that could only
answer 500s.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, Server, _postgres_database, start_server, stop_server


def test_health_and_ready_report_the_database(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["database"] == "ok"
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok"
        assert ready.json()["database"] == "ok"
        # Cheap: a burst of checks is served from the last ping.
        for _ in range(50):
            assert http.get("/health").status_code == 200
        spec = http.get("/openapi.json").json()
        assert {"/health", "/ready"} <= set(spec["paths"])


def test_a_database_that_is_gone_is_503(server: Server, tmp_path: Path) -> None:
    if "postgresql" not in server.database_url:
        pytest.skip("dropping the database under a running server: PostgreSQL")
    assert POSTGRES_URL
    databases = _postgres_database(tmp_path)
    url = next(databases)
    srv = start_server(url, tmp_path)
    try:
        assert httpx.get(srv.base_url + "/ready", timeout=10).status_code == 200
        admin = create_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            name = url.rpartition("/")[2]
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        deadline = time.monotonic() + 15
        health = httpx.get(srv.base_url + "/health", timeout=10)
        while health.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            health = httpx.get(srv.base_url + "/health", timeout=10)
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unavailable"
        assert health.json()["database"] != "ok"
        ready = httpx.get(srv.base_url + "/ready", timeout=10)
        assert ready.status_code == 503
    finally:
        stop_server(srv)
        for _ in databases:
            pass
