"""Races across two API processes on one PostgreSQL: hard limits hold and wallets never go
below zero when concurrent clients are spread over both processes.

The single-process races (50 concurrent consumers, 50 concurrent Kaiten reports, on SQLite
and PostgreSQL) are in tests/api/flexprice/test_checks.py and tests/api/kaiten/test_http.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.api.flexprice.test_checks import _check
from tests.api.flexprice.test_checks import _setup as checks_setup
from tests.conftest import POSTGRES_URL, Server, _postgres_database, new_tenant, start_server
from tests.conftest import stop_server as stop

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="two processes need PostgreSQL")
CLIENTS = 40


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("races")
    databases = _postgres_database(root)
    url = next(databases)
    first = start_server(url, Path(root))
    second = start_server(url, Path(root))
    try:
        yield first, second
    finally:
        stop(first)
        stop(second)
        for _ in databases:
            pass


def _spread(pair: tuple[Server, Server], index: int) -> str:
    return pair[index % 2].base_url


def test_check_and_consume_holds_the_limit_across_processes(
    pair: tuple[Server, Server],
) -> None:
    tenant = new_tenant(pair[0])
    with tenant.client() as http:
        s = checks_setup(http, limit=15)

    def consume(i: int) -> bool:
        with httpx.Client(
            base_url=_spread(pair, i), headers={"x-api-key": tenant.key}, timeout=60
        ) as client:
            response = _check(client, s, consume=1, event_id=f"race-{i}")
            assert response.status_code == 200, response.text
            return bool(response.json()["allowed"])

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        allowed = list(pool.map(consume, range(CLIENTS)))
    assert allowed.count(True) == 15
    for server in pair:
        with httpx.Client(base_url=server.base_url, headers={"x-api-key": tenant.key}) as http:
            assert _check(http, s).json()["usage"] == "15"


def test_kaiten_reports_hold_a_hard_limit_across_processes(pair: tuple[Server, Server]) -> None:
    tenant = new_tenant(pair[0])
    bearer = {"Authorization": f"Bearer {tenant.key}"}
    with httpx.Client(base_url=pair[1].base_url + "/api", headers=bearer, timeout=30) as api:
        steps = [
            (
                "/entitlements",
                {"name": "Jobs", "slug": "jobs", "type": "NUMBER", "description": "j"},
            ),
            ("/licenses", {"name": "Hard", "slug": "hard", "type": "PAID"}),
            (
                "/licenses/hard/entitlements",
                {"entitlementSlug": "jobs", "value": {"type": "number", "value": 12}},
            ),
            ("/customers", {"name": "Racer", "slug": "racer"}),
        ]
        for path, body in steps:
            assert api.post(path, json=body).status_code in (200, 201, 204)
        created = api.post(
            "/instances",
            json={
                "name": "race",
                "slug": "race",
                "customerId": api.get("/customers/racer").json()["id"],
                "licenseId": api.get("/licenses/hard").json()["id"],
                "startLicenseDate": "2026-01-01T00:00:00Z",
                "endLicenseDate": "2030-01-01T00:00:00Z",
            },
        )
        assert created.status_code == 201, created.text
    path = "/api/instances/race/entitlements/jobs/usage"

    def report(i: int) -> int:
        return httpx.post(
            _spread(pair, i) + path,
            json={"value": {"type": "number", "value": 1}, "behavior": "append"},
            headers=bearer,
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = list(pool.map(report, range(CLIENTS)))
    assert statuses.count(200) == 12
    assert statuses.count(409) == CLIENTS - 12
    for server in pair:
        final = httpx.get(server.base_url + path, headers=bearer).json()
        assert final["value"] == {"type": "number", "value": 12, "event_count": 12}


def test_wallet_debits_never_pass_the_balance_across_processes(
    pair: tuple[Server, Server],
) -> None:
    tenant = new_tenant(pair[0])
    with tenant.client() as http:
        customer = http.post("/v1/customers", json={"external_id": "payer", "name": "P"}).json()
        wallet = http.post(
            "/v1/wallets",
            json={
                "customer_id": customer["id"],
                "currency": "usd",
                "initial_credits_to_load": "10",
            },
        ).json()
        invoices = [
            http.post(
                "/v1/invoices",
                json={
                    "customer_id": customer["id"],
                    "currency": "usd",
                    "amount_due": "3",
                    "subtotal": "3",
                    "total": "3",
                },
            ).json()["id"]
            for _ in range(8)
        ]

    def finalize(index: int) -> int:
        return httpx.post(
            _spread(pair, index) + f"/v1/invoices/{invoices[index]}/finalize",
            headers={"x-api-key": tenant.key},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=len(invoices)) as pool:
        assert set(pool.map(finalize, range(len(invoices)))) == {200}
    with tenant.client() as http:
        balance = http.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json()
        applied = sum(
            Decimal(http.get(f"/v1/invoices/{i}").json()["total_prepaid_credits_applied"] or "0")
            for i in invoices
        )
        transactions = http.get(f"/v1/wallets/{wallet['id']}/transactions").json()["items"]
    # 10 credits over eight invoices of 3: exactly 10 applied in all, the balance is 0.
    assert Decimal(balance["credit_balance"]) == 0
    assert applied == 10
    debits = sum(Decimal(t["credit_amount"]) for t in transactions if t["type"] == "debit")
    assert debits == 10
