"""Webhooks against a real receiving HTTP server: Standard Webhooks signatures (verified
with the ``standardwebhooks`` library), the outbox, retries with backoff, the delivery log,
disabling after repeated failures, the events of the services, and bad input."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from meterline.webhooks.models import EVENT_TYPES
from tests.conftest import Server, Tenant, new_tenant, start_server, stop_server, unique
from tests.webhooks.conftest import WEBHOOK_ENV, Receiver


@pytest.fixture
def hook_tenant(hook_server: Server) -> Tenant:
    return new_tenant(hook_server)


@pytest.fixture
def api(hook_tenant: Tenant) -> Any:
    with hook_tenant.client() as client:
        yield client


def endpoint(api: httpx.Client, receiver: Receiver, *types: str) -> tuple[dict[str, Any], str]:
    path = "/" + unique("hook")
    response = api.post(
        "/v1/webhooks/endpoints", json={"url": receiver.url(path), "event_types": list(types)}
    )
    assert response.status_code == 201, response.text
    return response.json(), path


def one_off(api: httpx.Client, total: str = "25.50") -> dict[str, Any]:
    customer = api.post("/v1/customers", json={"external_id": unique("c"), "name": "Hook Co"})
    invoice = api.post(
        "/v1/invoices",
        json={
            "customer_id": customer.json()["id"],
            "currency": "usd",
            "amount_due": total,
            "subtotal": total,
            "total": total,
        },
    )
    assert invoice.status_code == 201, invoice.text
    return invoice.json()


def verified(received: Any, secret: str) -> dict[str, Any]:
    payload = Webhook(secret).verify(received.body, received.headers)
    assert isinstance(payload, dict)
    return payload


def settled_log(api: httpx.Client, hook_id: str, total: int) -> dict[str, Any]:
    """The endpoint's delivery log once every delivery has its final status.

    The receiver sees a request before the worker has recorded its answer, so a log read
    right after the receiver got the last attempt can still say "pending".
    """
    deadline = time.monotonic() + 15
    while True:
        log: dict[str, Any] = api.get(f"/v1/webhooks/endpoints/{hook_id}/deliveries").json()
        final = all(d["status"] != "pending" for d in log["items"])
        if (final and log["pagination"]["total"] == total) or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


def test_finalized_invoice_is_delivered_signed_to_subscribed_endpoints_only(
    api: httpx.Client, receiver: Receiver
) -> None:
    # Meterline's former names are accepted and stored as Flexprice's.
    invoices_hook, invoices_path = endpoint(api, receiver, "invoice.finalized", "invoice.paid")
    assert invoices_hook["event_types"] == ["invoice.update.finalized", "invoice.update.payment"]
    all_hook, all_path = endpoint(api, receiver)
    subs_hook, subs_path = endpoint(api, receiver, "subscription.created")
    invoice = one_off(api, "25.50")
    assert api.post(f"/v1/invoices/{invoice['id']}/finalize").status_code == 200

    [got] = receiver.wait_for(invoices_path, 1)
    payload = verified(got, invoices_hook["secret"])
    assert payload["event_type"] == "invoice.update.finalized"
    data = payload["invoice"]
    number = api.get(f"/v1/invoices/{invoice['id']}").json()["invoice_number"]
    assert (data["id"], data["invoice_number"], data["total"], data["currency"]) == (
        invoice["id"],
        number,
        "25.5",
        "usd",
    )
    assert data["invoice_status"] == "FINALIZED" and data["payment_status"] == "PENDING"
    assert got.headers["webhook-id"].startswith("msg_")
    # The same message to another endpoint: same id, that endpoint's own signature.
    # (The every-type endpoint got the invoice's customer.created first.)
    [copy] = receiver.wait_for(all_path, 1, where=lambda r: b"invoice.update" in r.body)
    assert copy.headers["webhook-id"] == got.headers["webhook-id"]
    assert verified(copy, all_hook["secret"]) == payload
    with pytest.raises(Exception):  # noqa: B017 - any verification error will do
        Webhook(subs_hook["secret"]).verify(copy.body, copy.headers)

    # Paying it makes invoice.update.payment; the subscription-only endpoint got nothing.
    paid = api.put(f"/v1/invoices/{invoice['id']}/payment", json={"payment_status": "SUCCEEDED"})
    assert paid.status_code == 200, paid.text
    second = receiver.wait_for(invoices_path, 2)[1]
    assert verified(second, invoices_hook["secret"])["event_type"] == "invoice.update.payment"
    assert verified(second, invoices_hook["secret"])["invoice"]["amount_paid"] == "25.5"
    log = settled_log(api, invoices_hook["id"], 2)
    assert log["pagination"]["total"] == 2
    assert {d["event_type"] for d in log["items"]} == {
        "invoice.update.finalized",
        "invoice.update.payment",
    }
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in log["items"])
    assert log["items"][0]["attempt_log"][0]["status_code"] == 200
    subs_log = api.get(f"/v1/webhooks/endpoints/{subs_hook['id']}/deliveries").json()
    assert subs_log["pagination"]["total"] == 0
    assert receiver.at(subs_path) == []


def test_failed_deliveries_are_retried_with_growing_waits(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "invoice.update.voided")
    receiver.scripts[path] = [500, 503]
    invoice = one_off(api, "3")
    assert api.post(f"/v1/invoices/{invoice['id']}/void").status_code == 200

    attempts = receiver.wait_for(path, 3)
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert all(
        verified(a, hook["secret"])["event_type"] == "invoice.update.voided" for a in attempts
    )
    [delivery] = settled_log(api, hook["id"], 1)["items"]
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 3)
    log = delivery["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 503, 200]
    times = [datetime.fromisoformat(a["attempted_at"].replace("Z", "+00:00")) for a in log]
    # Backoff 0.2 s then 0.4 s (lower bounds: the worker may start later, never earlier).
    assert (times[1] - times[0]).total_seconds() >= 0.2
    assert (times[2] - times[1]).total_seconds() >= 0.4
    assert api.get(f"/v1/webhooks/endpoints/{hook['id']}").json()["consecutive_failures"] == 0


def test_endpoint_is_disabled_after_repeated_failures_and_resumes_when_enabled(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "invoice.update.voided")
    receiver.scripts[path] = [500] * 4
    first, second = one_off(api, "1"), one_off(api, "2")
    api.post(f"/v1/invoices/{first['id']}/void")
    api.post(f"/v1/invoices/{second['id']}/void")
    receiver.wait_for(path, 4)

    def state() -> dict[str, Any]:
        return api.get(f"/v1/webhooks/endpoints/{hook['id']}").json()

    deadline = datetime.now().timestamp() + 10
    while state()["enabled"] and datetime.now().timestamp() < deadline:
        pass
    disabled = state()
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "disabled after 4 consecutive failed deliveries"
    assert disabled["consecutive_failures"] == 4
    assert len(receiver.at(path)) == 4  # nothing is sent to a disabled endpoint

    enabled = api.patch(f"/v1/webhooks/endpoints/{hook['id']}", json={"enabled": True})
    assert enabled.status_code == 200
    assert (enabled.json()["enabled"], enabled.json()["consecutive_failures"]) == (True, 0)
    # Each delivery had two failed attempts of three: the third succeeds now.
    receiver.wait_for(path, 6)
    items = settled_log(api, hook["id"], 2)["items"]
    assert sorted((d["status"], d["attempts"]) for d in items) == [
        ("succeeded", 3),
        ("succeeded", 3),
    ]
    paid_ids = {verified(r, hook["secret"])["invoice"]["id"] for r in receiver.at(path)}
    assert paid_ids == {first["id"], second["id"]}


def test_slow_endpoints_of_one_tenant_do_not_delay_another_tenants_delivery(
    api: httpx.Client, hook_server: Server, receiver: Receiver
) -> None:
    # Tenant A's four endpoints answer after 3 s (within the 5 s time-out); tenant B's at
    # once. Four attempts run at once (WEBHOOK_ENV), at most two of them one tenant's.
    slow_paths = [endpoint(api, receiver, "invoice.update.finalized")[1] for _ in range(4)]
    for path in slow_paths:
        receiver.delays[path] = 3.0

    def slow_seen() -> int:
        return sum(len(receiver.at(path)) for path in slow_paths)

    invoice = one_off(api, "1")
    with new_tenant(hook_server).client() as other:
        _, fast_path = endpoint(other, receiver, "invoice.update.finalized")
        fast_invoice = one_off(other, "2")
        assert api.post(f"/v1/invoices/{invoice['id']}/finalize").status_code == 200
        deadline = time.monotonic() + 15
        while slow_seen() < 2:  # A's first two deliveries are being answered, slowly
            assert time.monotonic() < deadline
            time.sleep(0.02)
        finalized = time.monotonic()
        assert other.post(f"/v1/invoices/{fast_invoice['id']}/finalize").status_code == 200
        [got] = receiver.wait_for(fast_path, 1, timeout=15)
    # Generous: the point is not waiting for A's 3 s answers (before, 3 s and more).
    assert got.at - finalized < 2.0, got.at - finalized
    assert slow_seen() == 2  # A's other two wait for A's share of the slots, not B's


def test_check_and_consume_reports_usage_reached_and_limit_exceeded(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(
        api,
        receiver,
        "entitlement.usage_reached",
        "entitlement.limit_exceeded",
        "subscription.created",
        "subscription.cancelled",
    )
    from tests.api.flexprice.test_checks import _check, _setup

    s = _setup(api, limit=5)
    [created] = receiver.wait_for(path, 1)
    assert verified(created, hook["secret"])["subscription"]["id"] == s["sub"]["id"]
    assert _check(api, s, consume=3).json()["allowed"] is True
    assert _check(api, s, consume=2).json()["allowed"] is True  # reaches 5 of 5
    assert _check(api, s, consume=1).json()["allowed"] is False  # refused: over the limit
    got = receiver.wait_for(path, 3)
    events = [verified(r, hook["secret"]) for r in got[1:]]
    assert [(e["event_type"], e["usage"], e["usage_limit"]) for e in events] == [
        ("entitlement.usage_reached", "5", "5"),
        ("entitlement.limit_exceeded", "5", "5"),
    ]
    assert events[1]["requested_usage"] == "6"
    cancel = api.post(
        f"/v1/subscriptions/{s['sub']['id']}/cancel", json={"cancellation_type": "immediate"}
    )
    assert cancel.status_code == 200, cancel.text
    last = receiver.wait_for(path, 4)[3]
    cancelled = verified(last, hook["secret"])
    assert cancelled["event_type"] == "subscription.cancelled"
    assert cancelled["subscription"]["subscription_status"] == "cancelled"


def test_wallet_balance_low_fires_once_when_crossing_the_threshold(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "wallet.credit_balance.dropped")
    customer = api.post("/v1/customers", json={"external_id": unique("w"), "name": "W"}).json()
    wallet = api.post(
        "/v1/wallets",
        json={
            "customer_id": customer["id"],
            "currency": "usd",
            "initial_credits_to_load": "50",
            "metadata": {"low_balance_threshold": "20"},
        },
    )
    assert wallet.status_code == 200, wallet.text
    for total in ("20", "15", "10"):  # 50 → 30 → 15 (crosses 20) → 5
        invoice = one_off_for(api, customer["id"], total)
        assert api.post(f"/v1/invoices/{invoice['id']}/finalize").status_code == 200
    [low] = receiver.wait_for(path, 1)
    body = verified(low, hook["secret"])
    threshold = body["alert"]["alert_settings"]["critical"]["threshold"]
    assert (body["wallet"]["id"], body["wallet"]["credit_balance"], threshold) == (
        wallet.json()["id"],
        "15",
        "20",
    )
    assert (body["alert"]["state"], body["customer"]["id"]) == ("in_alarm", customer["id"])
    # Let the other two finalizations' messages reach the worker: still one message.
    api.post(f"/v1/invoices/{one_off(api, '1')['id']}/finalize")
    receiver.wait_for(path, 1)
    assert len(receiver.at(path)) == 1


def one_off_for(api: httpx.Client, customer_id: str, total: str) -> dict[str, Any]:
    response = api.post(
        "/v1/invoices",
        json={
            "customer_id": customer_id,
            "currency": "usd",
            "amount_due": total,
            "subtotal": total,
            "total": total,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_outbox_survives_a_server_that_stops_before_delivering(
    hook_server: Server, receiver: Receiver, tmp_path: Any
) -> None:
    # A second server on the same database without a worker records the event and stops;
    # the first server's worker delivers it.
    path = "/" + unique("outbox")
    quiet = start_server(
        hook_server.database_url, tmp_path, {**WEBHOOK_ENV, "METERLINE_WEBHOOK_WORKER": "false"}
    )
    try:
        tenant = new_tenant(quiet)
        with tenant.client() as api:
            hook = api.post(
                "/v1/webhooks/endpoints",
                json={"url": receiver.url(path), "event_types": ["invoice.update.finalized"]},
            ).json()
            invoice = one_off(api, "7")
            assert api.post(f"/v1/invoices/{invoice['id']}/finalize").status_code == 200
    finally:
        stop_server(quiet)
    [got] = receiver.wait_for(path, 1)
    assert verified(got, hook["secret"])["invoice"]["id"] == invoice["id"]


def test_endpoint_crud_and_bad_input(api: httpx.Client, receiver: Receiver) -> None:
    hook, _ = endpoint(api, receiver, "invoice.update.payment")
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    listed = api.get("/v1/webhooks/endpoints").json()
    assert [e["id"] for e in listed["items"]] == [hook["id"]]
    changed = api.patch(
        f"/v1/webhooks/endpoints/{hook['id']}",
        json={"event_types": ["invoice.update.voided"], "description": "ops"},
    ).json()
    assert (changed["event_types"], changed["description"]) == (["invoice.update.voided"], "ops")
    rotated = api.post(f"/v1/webhooks/endpoints/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"]
    types = api.get("/v1/webhooks/event-types").json()["event_types"]
    assert "instance.usage_threshold_reached" in types and len(types) == len(EVENT_TYPES)
    assert "subscription.billing_failed" in types

    bad_type = api.post(
        "/v1/webhooks/endpoints", json={"url": receiver.url("/x"), "event_types": ["nope"]}
    )
    assert bad_type.status_code == 400
    assert bad_type.json()["details"]["field"] == "event_types"
    bad_url = api.post("/v1/webhooks/endpoints", json={"url": "ftp://example"})
    assert bad_url.status_code == 400 and bad_url.json()["details"]["field"] == "url"
    assert api.post("/v1/webhooks/endpoints", json={}).status_code == 400
    assert api.get("/v1/webhooks/endpoints?limit=0").status_code == 400
    assert api.get("/v1/webhooks/endpoints/whep_missing").status_code == 404

    assert api.delete(f"/v1/webhooks/endpoints/{hook['id']}").status_code == 204
    assert api.get(f"/v1/webhooks/endpoints/{hook['id']}").status_code == 404
    assert api.get("/v1/webhooks/endpoints").json()["items"] == []


def test_endpoints_of_another_environment_are_invisible(
    api: httpx.Client, hook_server: Server, receiver: Receiver
) -> None:
    hook, _ = endpoint(api, receiver)
    with new_tenant(hook_server).client() as other:
        assert other.get(f"/v1/webhooks/endpoints/{hook['id']}").status_code == 404
        assert other.patch(f"/v1/webhooks/endpoints/{hook['id']}", json={}).status_code == 404
        assert other.get("/v1/webhooks/endpoints").json()["items"] == []


def test_a_finished_delivery_is_replayed_as_the_same_message(
    api: httpx.Client, hook_server: Server, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "invoice.update.voided")
    receiver.scripts[path] = [500] * 3  # every attempt it has (WEBHOOK_ENV: 3)
    invoice = one_off(api, "9")
    assert api.post(f"/v1/invoices/{invoice['id']}/void").status_code == 200
    receiver.wait_for(path, 3)
    [failed] = settled_log(api, hook["id"], 1)["items"]
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    one = f"/v1/webhooks/endpoints/{hook['id']}/deliveries/{failed['id']}"
    assert api.get(one).json() == failed

    # Replayed: the same message again (same id, same bytes), logged on the same delivery.
    receiver.delays[path] = 1.0  # answered slowly, so the replay is still pending below
    replayed = api.post(one + "/replay")
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    again = api.post(one + "/replay")
    assert again.status_code == 400 and "pending" in again.json()["message"]
    attempts = receiver.wait_for(path, 4)
    assert attempts[3].body == attempts[0].body
    assert attempts[3].headers["webhook-id"] == attempts[0].headers["webhook-id"]
    assert verified(attempts[3], hook["secret"])["invoice"]["id"] == invoice["id"]
    receiver.delays[path] = 0.0
    deadline = time.monotonic() + 15
    while api.get(one).json()["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    done = api.get(one).json()
    assert (done["status"], done["attempts"]) == ("succeeded", 4)
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 500, 500, 200]
    # A succeeded delivery can be sent again too.
    assert api.post(one + "/replay").status_code == 202
    receiver.wait_for(path, 5)

    # Refused: a disabled endpoint's delivery, another endpoint's or environment's, none.
    deadline = time.monotonic() + 15
    while api.get(one).json()["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    api.patch(f"/v1/webhooks/endpoints/{hook['id']}", json={"enabled": False})
    disabled = api.post(one + "/replay")
    assert disabled.status_code == 400 and "disabled" in disabled.json()["message"]
    other_hook, _ = endpoint(api, receiver, "invoice.update.voided")
    wrong = f"/v1/webhooks/endpoints/{other_hook['id']}/deliveries/{failed['id']}"
    assert api.post(wrong + "/replay").status_code == 404
    assert api.get(wrong).status_code == 404
    assert (
        api.post(f"/v1/webhooks/endpoints/{hook['id']}/deliveries/whdel_x/replay").status_code
        == 404
    )
    with new_tenant(hook_server).client() as other:
        assert other.post(one + "/replay").status_code == 404
        assert other.get(one).status_code == 404
    assert len(receiver.at(path)) == 5
