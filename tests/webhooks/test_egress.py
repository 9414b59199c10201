"""Webhook URLs that resolve to loopback, private, link-local (cloud metadata), unspecified,
multicast or other non-public addresses are refused when registered or changed, and again
when delivered (a name can resolve elsewhere by then), unless the operator allows them.

Only literal addresses and ``localhost`` are used: no test looks a name up on a network."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Server, new_tenant, unique
from tests.webhooks.conftest import SQL_BACKENDS, WEBHOOK_ENV, Receiver, webhook_server
from tests.webhooks.test_webhooks import one_off

GUARDED_ENV = {**WEBHOOK_ENV, "METERLINE_WEBHOOK_ALLOW_PRIVATE": "false"}

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://2130706433/hook",  # 127.0.0.1 written as one decimal number
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata address
    "http://10.0.0.7/hook",
    "http://172.16.5.4/hook",
    "https://192.168.1.10/hook",
    "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::]/hook",
]


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def guarded_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with webhook_server(request.param, tmp_path_factory.mktemp("egress"), GUARDED_ENV) as s:
        yield s


def _refused_url(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["http_status_code"] == 400 and body["details"]["field"] == "url", body
    return str(body["message"])


def test_non_public_urls_are_refused_when_registered_or_changed(guarded_server: Server) -> None:
    with new_tenant(guarded_server).client() as api:
        for url in REFUSED:
            message = _refused_url(api.post("/v1/webhooks/endpoints", json={"url": url}))
            assert "public addresses only" in message, (url, message)
        assert "169.254.169.254, a link-local" in _refused_url(
            api.post("/v1/webhooks/endpoints", json={"url": REFUSED[3]})
        )
        # A public address is accepted (a literal: nothing is looked up), and cannot be
        # changed to a private one.
        public = api.post("/v1/webhooks/endpoints", json={"url": "https://93.184.216.34/in"})
        assert public.status_code == 201, public.text
        hook = public.json()
        changed = api.patch(f"/v1/webhooks/endpoints/{hook['id']}", json={"url": REFUSED[0]})
        _refused_url(changed)
        assert api.get(f"/v1/webhooks/endpoints/{hook['id']}").json()["url"] == (
            "https://93.184.216.34/in"
        )
        assert api.get("/v1/webhooks/endpoints").json()["pagination"]["total"] == 1


def test_a_private_destination_is_refused_again_at_delivery(
    guarded_server: Server, receiver: Receiver
) -> None:
    # Registered while its host was public; by delivery it points at 127.0.0.1 (for a name,
    # a changed DNS answer: here the row is changed, so that nothing resolves a name).
    path = "/" + unique("egress")
    tenant = new_tenant(guarded_server)
    with tenant.client() as api:
        created = api.post(
            "/v1/webhooks/endpoints",
            json={"url": "http://93.184.216.34/in", "event_types": ["invoice.update.voided"]},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        engine = create_engine(
            guarded_server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        )
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE webhook_endpoints SET url = :url WHERE id = :id"),
                {"url": receiver.url(path), "id": hook["id"]},
            )
        engine.dispose()
        invoice = one_off(api, "5")
        assert api.post(f"/v1/invoices/{invoice['id']}/void").status_code == 200

        deadline = time.monotonic() + 15
        while True:
            log = api.get(f"/v1/webhooks/endpoints/{hook['id']}/deliveries").json()
            if log["items"] and log["items"][0]["attempt_log"]:
                break
            assert time.monotonic() < deadline, log
            time.sleep(0.1)
    attempt = log["items"][0]["attempt_log"][0]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: the host 127.0.0.1 resolves to 127.0.0.1")
    assert receiver.at(path) == []
