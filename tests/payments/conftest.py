"""A localstripe server on a free local port (started as a subprocess, stopped at the end),
and Meterline servers whose Stripe provider points at it, one per backend; a server whose
Stripe is down (a closed port) for the provider-outage test."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, Server, free_port, start_server, stop_server

HERE = Path(__file__).resolve().parent
STRIPE_KEY = "sk_test_meterline"


@dataclass
class LocalStripe:
    url: str

    def client(self) -> Any:
        import stripe

        return stripe.StripeClient(
            STRIPE_KEY, base_addresses={"api": self.url}, max_network_retries=0
        )

    def delay_answers(self, path: str, seconds: float) -> None:
        """Hold each first answer to a POST of ``path`` for ``seconds`` after carrying it out."""
        asked = httpx.post(
            self.url + "/_config/answer_delay", json={"path": path, "seconds": seconds}
        )
        assert asked.status_code == 200, asked.text

    def idempotency_keys(self) -> list[dict[str, str]]:
        found: list[dict[str, str]] = httpx.get(self.url + "/_config/idempotency_keys").json()
        return found


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    pytest.importorskip("localstripe", reason="localstripe (the dev extra) is not installed")
    pytest.importorskip("stripe")
    port = free_port()
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "localstripe_server.py"), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"localstripe exited: {log_path.read_text()}")
            try:
                if httpx.get(url + "/_config/idempotency_keys", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield LocalStripe(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _stripe_env(base_url: str) -> dict[str, str]:
    return {
        "METERLINE_STRIPE_API_KEY": STRIPE_KEY,
        "METERLINE_STRIPE_BASE_URL": base_url,
        "METERLINE_STRIPE_TIMEOUT_SECONDS": "5",
    }


@pytest.fixture(scope="session", params=[b for b in BACKENDS if b != "clickhouse"])
def stripe_server(
    request: pytest.FixtureRequest,
    localstripe: LocalStripe,
    database_urls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("stripe")
    url = database_urls[request.param]
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'stripe.db'}"
    srv = start_server(url, root, _stripe_env(localstripe.url))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def stripe_down_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Stripe configured at a port nothing listens on."""
    root = tmp_path_factory.mktemp("stripe-down")
    srv = start_server(
        f"sqlite:///{root / 'down.db'}",
        root,
        _stripe_env(f"http://127.0.0.1:{free_port()}"),
    )
    yield srv
    stop_server(srv)
