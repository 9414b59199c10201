"""Reservations over HTTP on SQLite and PostgreSQL: holds within the limit, reports that
count the holds, settlements by each overage rule, refusals with nothing changed, and
concurrent holds and reports that never pass a hard limit together; expiry with time
injected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from meterline.db.engine import Database
from meterline.kernel.errors import Conflict
from meterline.licensing import reservations
from meterline.licensing.cull_job import LicensingCullJob
from tests.api.kaiten.conftest import granted_instance
from tests.conftest import Tenant
from tests.licensing.conftest import principal_of


def _code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code") if response.content else None


def _usage(api: httpx.Client, instance: str, ent: str) -> Any:
    return api.get(f"/instances/{instance}/entitlements/{ent}/usage").json()["value"]["value"]


def _report(api: httpx.Client, instance: str, ent: str, value: int) -> int:
    body = {"value": {"type": "number", "value": value}, "behavior": "append"}
    return api.post(f"/instances/{instance}/entitlements/{ent}/usage", json=body).status_code


def test_holds_settlements_and_releases(api: httpx.Client) -> None:
    instance, ent = granted_instance(api, 10)
    path = f"/instances/{instance}/entitlements/{ent}/reservations"
    first = api.post(path, json={"amount": 6})
    assert first.status_code == 201, first.text
    assert (first.json()["amount"], first.json()["overage"]) == (6, "reject")
    assert _code(api.post(path, json={"amount": 5})) == (409, "HoldReservation.LimitReached")
    capped = api.post(path, json={"amount": 4, "overage": "cap", "ttlSeconds": 60})
    assert capped.status_code == 201, capped.text
    assert _report(api, instance, ent, 1) == 409  # 0 + 1 + 10 held > 10
    assert len(api.get(path).json()["items"]) == 2

    h1, h2 = first.json()["id"], capped.json()["id"]
    assert _code(api.post(f"{path}/{h1}/settle", json={"amount": 7})) == (
        409,
        "SettleReservation.AboveHold",
    )
    assert _usage(api, instance, ent) == 0  # nothing changed
    settled = api.post(f"{path}/{h1}/settle", json={"amount": 5})
    assert settled.status_code == 200, settled.text
    assert (settled.json()["settledAmount"], settled.json()["usage"]["value"]["value"]) == (5, 5)
    assert _report(api, instance, ent, 1) == 200  # 5 + 1 + 4 held = 10
    assert _report(api, instance, ent, 1) == 409
    by_cap = api.post(f"{path}/{h2}/settle", json={"amount": 9}).json()
    assert (by_cap["settledAmount"], by_cap["usage"]["value"]["value"]) == (4, 10)
    assert _code(api.post(f"{path}/{h2}/settle", json={"amount": 1})) == (
        404,
        "SettleReservation.NotFound",
    )
    assert _code(api.delete(f"{path}/{h1}")) == (404, "ReleaseReservation.NotFound")
    ledger = api.get(f"/instances/{instance}/entitlements/{ent}/usage/reports").json()
    assert [(r["status"], r["value"]) for r in ledger] == [
        ("REJECTED", 1),
        ("ACCEPTED", 5),
        ("ACCEPTED", 1),
        ("REJECTED", 1),
        ("ACCEPTED", 4),
    ]

    # allow: the actual amount, as long as the limit holds with it
    instance, ent = granted_instance(api, 10)
    path = f"/instances/{instance}/entitlements/{ent}/reservations"
    hold = api.post(path, json={"amount": 3, "overage": "allow"}).json()["id"]
    assert api.post(f"{path}/{hold}/settle", json={"amount": 5}).json()["settledAmount"] == 5
    hold = api.post(path, json={"amount": 3, "overage": "allow"}).json()["id"]
    assert _code(api.post(f"{path}/{hold}/settle", json={"amount": 8})) == (
        409,
        "SettleReservation.LimitReached",
    )
    assert api.delete(f"{path}/{hold}").status_code == 204
    assert api.get(path).json()["items"] == []
    assert _usage(api, instance, ent) == 5

    # bad input, refused by name; a hold on a MAX entitlement means nothing
    for bad in (
        {"amount": 0},
        {"amount": -1},
        {"amount": 1, "ttlSeconds": 0},
        {"amount": 1, "ttlSeconds": 86401},
        {"amount": 1, "overage": "maybe"},
        {"amount": 1, "colour": "red"},
        {"amount": "1e999"},
    ):
        assert api.post(path, json=bad).status_code in (400, 422), bad
    assert _code(
        api.post(f"/instances/nope/entitlements/{ent}/reservations", json={"amount": 1})
    ) == (
        404,
        "HoldReservation.ContextNotFound",
    )
    peak, peak_ent = granted_instance(api, 10, aggregation="MAX")
    refused = api.post(
        f"/instances/{peak}/entitlements/{peak_ent}/reservations", json={"amount": 1}
    )
    assert _code(refused) == (400, "HoldReservation.NotASumEntitlement")


def test_concurrent_holds_and_reports_never_pass_the_limit(api: httpx.Client) -> None:
    instance, ent = granted_instance(api, 10)
    base, headers = str(api.base_url), dict(api.headers)

    def call(n: int) -> tuple[str, int]:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            if n % 2:
                path = f"/instances/{instance}/entitlements/{ent}/reservations"
                return "hold", client.post(path, json={"amount": 1}).status_code
            return "report", _report(client, instance, ent, 1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, range(32)))
    held = sum(1 for kind, status in answers if kind == "hold" and status == 201)
    reported = sum(1 for kind, status in answers if kind == "report" and status == 200)
    assert held + reported == 10
    assert {status for _, status in answers} <= {200, 201, 409}
    assert _usage(api, instance, ent) == reported


def test_an_expired_hold_holds_nothing_and_cannot_be_settled(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    instance, ent = granted_instance(api, 10)
    who = principal_of(tenant)
    t0 = datetime(2027, 5, 1, tzinfo=UTC)
    terms: dict[str, Any] = {"amount": Decimal(10), "ttl_seconds": 30, "overage": "reject"}
    with db.session() as s:
        hold_id = reservations.hold(s, who, instance, ent, now=t0, **terms).id
    with pytest.raises(Conflict) as refused, db.session() as s:
        reservations.hold(s, who, instance, ent, now=t0 + timedelta(seconds=29), **terms)
    assert refused.value.reason == "limit_reached"
    with pytest.raises(Conflict) as expired, db.session() as s:
        later = t0 + timedelta(seconds=30)
        reservations.settle(s, who, instance, ent, hold_id, actual=Decimal(1), now=later)
    assert expired.value.reason == "hold_expired"
    with db.session() as s:  # its amount is free again
        reservations.hold(s, who, instance, ent, now=t0 + timedelta(seconds=30), **terms)
    assert LicensingCullJob(db).run_once(now=t0 + timedelta(seconds=31)).holds >= 1
