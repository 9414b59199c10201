"""The billing clock inside `meterline serve` closes ended periods on its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, new_tenant, start_server, stop_server, unique
from tests.invoicing.test_clock import plan_with_fee


@pytest.fixture
def clocked_server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(
        f"sqlite:///{tmp_path / 'clock.db'}",
        tmp_path,
        {"METERLINE_BILLING_INTERVAL_SECONDS": "0.5", "METERLINE_BILLING_GRACE_SECONDS": "0"},
    )
    yield server
    stop_server(server)


def test_serve_bills_an_ended_period_in_the_background(clocked_server: Server) -> None:
    tenant = new_tenant(clocked_server)
    with tenant.client() as http:
        plan_id, _meter = plan_with_fee(http, unique("call"))
        customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()
        start = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0)
        sub = http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": start.isoformat().replace("+00:00", "Z"),
            },
        )
        assert sub.status_code == 201, sub.text
        cycle: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cycle = _cycle_invoices(http, sub.json()["id"])
            if cycle and cycle[0]["invoice_status"] == "FINALIZED":
                break
            time.sleep(0.2)
        # One period has ended (40 days ago → about 10 days ago): one period-end invoice,
        # with the next period's advance fee, finalized once its (zero) grace has passed.
        assert len(cycle) == 1
        assert cycle[0]["invoice_status"] == "FINALIZED"
        assert cycle[0]["subtotal"] == "10"
        current = http.get(f"/v1/subscriptions/{sub.json()['id']}").json()
        assert current["current_period_start"][:10] == cycle[0]["period_end"][:10]


def _cycle_invoices(http: httpx.Client, subscription_id: str) -> list[dict[str, object]]:
    found = http.post(
        "/v1/invoices/search",
        json={"subscription_id": subscription_id, "billing_reason": "SUBSCRIPTION_CYCLE"},
    ).json()["items"]
    return list(found)
