"""The checks' hot path (entitlements/read_model.py) answers from memory, and memory is never stale.

Each test warms the memory with a few checks, changes what they depend on — through the
API, through the database from another process, or by letting the clock pass a scheduled
cancellation — and requires the very next check to see the change.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from meterline.db import catalog_version
from meterline.db import models as _all_tables  # noqa: F401  (every mapper, for the ORM)
from meterline.db.engine import Database
from meterline.entitlements.models import Entitlement
from meterline.settings import Settings
from meterline.subscriptions.models import Subscription
from tests.api.flexprice.test_checks import _check, _setup
from tests.conftest import Tenant, unique


def _summary(http: httpx.Client, s: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = http.get(
        "/v1/customers/usage", params={"customer_id": s["customer"]["id"], **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _warm(http: httpx.Client, s: dict[str, Any]) -> dict[str, Any]:
    for _ in range(3):
        body = _check(http, s).json()
        _summary(http, s)
    return body


def _ingest(http: httpx.Client, s: dict[str, Any], n: str) -> None:
    response = http.post(
        "/v1/events",
        json={
            "event_name": s["meter_event"],
            "external_customer_id": s["customer"]["external_id"],
            "properties": {"n": n},
        },
    )
    assert response.status_code == 202, response.text


def _subscribe(http: httpx.Client, customer_id: str, plan_id: str) -> None:
    subscribed = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer_id,
            "plan_id": plan_id,
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    assert subscribed.status_code == 201, subscribed.text


def test_an_acknowledged_event_is_in_the_very_next_check(http: httpx.Client) -> None:
    s = _setup(http, limit=100)
    assert _warm(http, s)["usage"] == "0"
    total = 0
    for n in (3, 4, 5):
        _ingest(http, s, str(n))
        total += n
        assert _check(http, s).json()["usage"] == str(total)
        metered = _summary(http, s)["features"][0]
        assert metered["current_usage"] == str(total)
        assert metered["usage_percent"] == str(total / 100).rstrip("0")
    consumed = _check(http, s, consume=2, event_id=unique("c")).json()
    assert consumed["usage"] == str(total + 2)
    assert _check(http, s).json()["usage"] == str(total + 2)


def test_a_grant_change_is_seen_at_once(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    assert _warm(http, s)["limit"] == "10"
    changed = http.put(f"/v1/entitlements/{s['grant']['id']}", json={"usage_limit": 3})
    assert changed.status_code == 200, changed.text
    _ingest(http, s, "3")
    body = _check(http, s).json()
    assert body["limit"] == "3"
    assert body["allowed"] is False and body["reason"] == "limit_exceeded"
    assert _summary(http, s)["features"][0]["total_limit"] == 3


def test_a_cancelled_subscription_stops_granting_at_once(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    assert _warm(http, s)["allowed"] is True
    cancelled = http.post(
        f"/v1/subscriptions/{s['sub']['id']}/cancel", json={"cancellation_type": "immediate"}
    )
    assert cancelled.status_code == 200, cancelled.text
    body = _check(http, s).json()
    assert body["allowed"] is False and body["reason"] == "no_entitlement"
    assert _summary(http, s)["features"] == []


def test_a_scheduled_cancellation_takes_effect_without_any_write(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    at = datetime.now(UTC) + timedelta(seconds=3)
    scheduled = http.post(
        f"/v1/subscriptions/{s['sub']['id']}/cancel",
        json={"cancellation_type": "scheduled_date", "cancel_at": at.isoformat()},
    )
    assert scheduled.status_code == 200, scheduled.text
    assert _warm(http, s)["allowed"] is True
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.2)
    body = _check(http, s).json()
    assert body["allowed"] is False and body["reason"] == "no_entitlement"
    assert _summary(http, s)["features"] == []


def test_a_revoked_key_is_refused_at_once(tenant: Tenant, http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    created = http.post("/v1/secrets/api/keys", json={"name": "short-lived"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    with tenant.server.client(key) as other:
        assert _warm(other, s)["allowed"] is True
        revoked = http.delete(f"/v1/secrets/api/keys/{created.json()['secret']['id']}")
        assert revoked.status_code == 204, revoked.text
        assert _check(other, s).status_code == 401
        assert other.get("/v1/customers/usage", params={"customer_id": "x"}).status_code == 401


def test_an_expired_key_is_refused_although_remembered(tenant: Tenant, http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    expires = datetime.now(UTC) + timedelta(seconds=2)
    created = http.post(
        "/v1/secrets/api/keys", json={"name": "expiring", "expires_at": expires.isoformat()}
    )
    assert created.status_code == 201, created.text
    with tenant.server.client(created.json()["api_key"]) as other:
        assert _warm(other, s)["allowed"] is True
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
        assert _check(other, s).status_code == 401


def test_a_write_from_another_process_is_seen(tenant: Tenant, http: httpx.Client) -> None:
    """This test process is not the server: its commit reaches the server only through the
    database, as ``meterline bill`` or a second ``serve`` process would."""
    s = _setup(http, limit=10)
    assert _warm(http, s)["limit"] == "10"
    db = Database.connect(Settings(), tenant.server.database_url)
    try:
        with db.session() as session:
            session.execute(
                update(Entitlement).where(Entitlement.id == s["grant"]["id"]).values(usage_limit=7)
            )
    finally:
        db.dispose()
    assert _check(http, s).json()["limit"] == "7"
    assert _summary(http, s)["features"][0]["total_limit"] == 7
    # A change of one customer's subscription, through the ORM: that customer's version.
    db = Database.connect(Settings(), tenant.server.database_url)
    try:
        with db.session() as session:
            sub = session.get(Subscription, s["sub"]["id"])
            assert sub is not None
            sub.subscription_status = "cancelled"
    finally:
        db.dispose()
    assert _check(http, s).json()["reason"] == "no_entitlement"
    assert _summary(http, s)["features"] == []


def test_the_shortcut_and_the_route_behind_answer_alike(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    _ingest(http, s, "4")
    shortcut = _summary(http, s)
    # A subscription filter is left to the FastAPI route behind the shortcut.
    routed = _summary(http, s, subscription_ids=s["sub"]["id"])
    assert shortcut == routed
    assert [f["feature"]["id"] for f in shortcut["features"]] == [
        s["feature"]["id"],
        s["flag"]["id"],
    ]
    by_key = _summary(http, s, feature_lookup_keys=s["flag"]["lookup_key"])
    assert [f["feature"]["id"] for f in by_key["features"]] == [s["flag"]["id"]]
    unknown = http.get(
        "/v1/customers/usage",
        params={"customer_id": s["customer"]["id"], "feature_lookup_keys": unique("nope")},
    )
    assert unknown.status_code == 404
    assert http.get("/v1/customers/usage").status_code == 400
    assert http.get("/v1/customers/usage", params={"customer_id": "cust_nope"}).status_code == 404
    malformed = http.post(
        "/v1/entitlements/check",
        content=b'{"customer_id": ',
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "validation_error"


def test_a_subscription_is_seen_by_a_customer_checked_before_it(http: httpx.Client) -> None:
    s = _setup(http, limit=10)
    newcomer = http.post("/v1/customers", json={"external_id": unique("n"), "name": "N"}).json()
    s = {**s, "customer": newcomer}
    assert _warm(http, s)["reason"] == "no_entitlement"
    assert _summary(http, s)["features"] == []
    _subscribe(http, newcomer["id"], s["sub"]["plan_id"])
    assert _check(http, s).json()["allowed"] is True
    assert len(_summary(http, s)["features"]) == 2


def test_versions_move_only_where_a_write_could_change_an_answer(
    tenant: Tenant, http: httpx.Client
) -> None:
    """Events leave every version alone (else every check under a steady ingest would
    rebuild its snapshot); a sign-up or a cancellation moves that customer's version only
    (else every customer's snapshot would be rebuilt); a grant change moves the global one."""
    s = _setup(http, limit=100)
    customer = s["customer"]["id"]
    db = Database.connect(Settings(), tenant.server.database_url)
    try:

        def versions(*scopes: str) -> list[int]:
            with db.read_engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                return [catalog_version.read_customer(raw, scope) for scope in scopes]

        everyone, mine = versions("*", customer)
        _ingest(http, s, "2")
        assert _check(http, s, consume=1, event_id=unique("c")).json()["consumed"] == "1"
        assert _check(http, s).json()["usage"] == "3"
        assert versions("*", customer) == [everyone, mine]

        other = http.post("/v1/customers", json={"external_id": unique("o"), "name": "O"}).json()
        _subscribe(http, other["id"], s["sub"]["plan_id"])
        assert versions("*", customer, other["id"]) == [everyone, mine, 1]

        cancelled = http.post(
            f"/v1/subscriptions/{s['sub']['id']}/cancel", json={"cancellation_type": "immediate"}
        )
        assert cancelled.status_code == 200, cancelled.text
        assert versions("*", customer, other["id"]) == [everyone, mine + 1, 1]

        http.put(f"/v1/entitlements/{s['grant']['id']}", json={"usage_limit": 50})
        assert versions("*")[0] == everyone + 1
    finally:
        db.dispose()
