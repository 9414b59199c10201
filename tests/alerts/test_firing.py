"""Alerts that fire, through the SDK over real HTTP, on SQLite and PostgreSQL: each kind of
threshold (wallet balance, subscription spend, line item spend, entitlement usage) crossed
once and recovered once, with a server restart in between; exactly one signed webhook per
crossing and one per recovery, each body parsed with the SDK's model for its type."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flexprice.models as fm
import httpx
import pytest
from flexprice import Flexprice
from standardwebhooks import Webhook

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import (
    Server,
    Tenant,
    _postgres_database,
    new_tenant,
    start_server,
    stop_server,
    unique,
)
from tests.webhooks.conftest import SQL_BACKENDS, WEBHOOK_ENV, Receiver
from tests.webhooks.conftest import receiver as receiver  # the fixture
from tests.webhooks.test_webhooks import one_off_for

# A scan only at start: what fires before the restart fires from the hooks (ingest, wallet
# ledger, setting changes), not from a periodic scan.
ALERTS = [
    "wallet.credit_balance.dropped",
    "wallet.credit_balance.recovered",
    "subscription.spend.threshold_reached",
    "subscription.spend.threshold_recovered",
    "subscription.line_item_spend.threshold_reached",
    "subscription.line_item_spend.threshold_recovered",
    "entitlement.usage_threshold.reached",
    "entitlement.usage_threshold.recovered",
]
# Two starts on one database: on a loaded machine one can take longer than the default minute.
START_SECONDS = 150
ALERT_ENV = {**WEBHOOK_ENV, "METERLINE_ALERTS_SCAN_SECONDS": "3600"}


@pytest.fixture(params=SQL_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, kept across the servers it starts."""
    if request.param != "postgres":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
        return
    databases = _postgres_database(tmp_path)
    yield next(databases)
    for _ in databases:
        pass


def sdk(server: Server, tenant: Tenant) -> Flexprice:
    # A first request after a start can be slow on a loaded machine: wait as httpx.Client does.
    return Flexprice(server_url=server.base_url + "/v1", api_key_auth=tenant.key, timeout_ms=30_000)


def _deliveries(http: httpx.Client, hook_id: str, count: int) -> list[dict[str, Any]]:
    """The endpoint's delivery log once it holds ``count`` succeeded deliveries."""
    deadline = time.monotonic() + 20
    while True:
        items = http.get(
            f"/v1/webhooks/endpoints/{hook_id}/deliveries", params={"limit": 100}
        ).json()["items"]
        done = [d for d in items if d["status"] == "succeeded"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.1)


def _settings(fp: Flexprice, sub_id: str, wallet_id: str, grant_id: str) -> dict[str, str]:
    line_items = fp.subscriptions.get_subscription(id=sub_id).line_items or []
    [usage_item] = [i for i in line_items if i.price_type == "USAGE"]
    assert usage_item.id is not None

    def make(entity_type: str, entity_id: str, level: str, condition: str, value: str, **kw: Any):  # type: ignore[no-untyped-def]
        made = fp.alert_settings.create_alert_settings(
            entity_type=entity_type,
            entity_id=entity_id,
            config={
                "alert_enabled": True,
                "alert_threshold_type": kw.pop("threshold_type", "absolute"),
                level: {"condition": condition, "threshold": value},
            },
            **kw,
        )
        assert made.id is not None
        return made.id

    return {
        "wallet": make("wallet", wallet_id, "critical", "below", "50"),
        "subscription": make("subscription", sub_id, "critical", "above", "3"),
        "subscription_line_item": make(
            "subscription_line_item", usage_item.id, "warning", "above", "2"
        ),
        "entitlement_grant": make(
            "entitlement_grant", grant_id, "critical", "above", "80", threshold_type="percentage"
        ),
    }


def test_each_threshold_fires_once_when_crossed_and_once_when_recovered_across_a_restart(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    path = "/" + unique("alerts")
    first = start_server(database_url, tmp_path, ALERT_ENV, start_seconds=START_SECONDS)
    try:
        tenant = new_tenant(first)
        fp, http = sdk(first, tenant), tenant.client()
        hook = http.post(
            "/v1/webhooks/endpoints", json={"url": receiver.url(path), "event_types": ALERTS}
        ).json()
        customer = fp.customers.create_customer(external_id=unique("cust"), name="Alert Co")
        feature = tokens_feature(fp, event="alert")
        plan = fp.plans.create_plan(name="Metered", lookup_key=unique("plan"))
        plan_price(
            fp,
            plan.id,
            type_="USAGE",
            meter_id=feature.meter_id,
            billing_model="FLAT_FEE",
            amount="0.01",
            invoice_cadence="ARREAR",
        )
        grant = http.post(
            "/v1/entitlements",
            json={
                "plan_id": plan.id,
                "feature_id": feature.id,
                "feature_type": "metered",
                "usage_limit": 500,
                "usage_reset_period": "MONTHLY",
            },
        ).json()
        sub = fp.subscriptions.create_subscription(
            customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
        )
        wallet = fp.wallets.create_wallet(
            customer_id=customer.id, currency="usd", initial_credits_to_load="100"
        )
        ids = _settings(fp, sub.id, wallet.id, grant["id"])
        assert receiver.at(path) == []  # nothing crossed yet

        # 900 tokens: 180 % of the 500 included (over 80); the 400 over it at 0.01 are a
        # spend of 4.00 (over 3 and over 2).
        fp.events.ingest_events_bulk(
            events=[
                {
                    "event_name": feature.meter.event_name,
                    "external_customer_id": customer.external_id,
                    "event_id": unique("e"),
                    "properties": {"tokens": tokens},
                }
                for tokens in ("400", "500")
            ]
        )
        # An invoice paid from the wallet: 100 → 40, under 50.
        paid = one_off_for(http, customer.id, "60")
        fp.invoices.finalize_invoice(id=paid["id"])
        crossed = receiver.wait_for(path, 4)
        time.sleep(1.0)  # anything more would have come by now
        assert len(receiver.at(path)) == 4
        http.close()
    finally:
        stop_server(first)

    # A restart on the same database: its first tick scans every setting, and sends nothing.
    second = start_server(database_url, tmp_path, ALERT_ENV, start_seconds=START_SECONDS)
    try:
        fp, http = (
            sdk(second, tenant),
            (Tenant(second, tenant.environment_id, tenant.key).client()),
        )
        time.sleep(1.5)
        assert len(receiver.at(path)) == 4
        # Recoveries: the wallet topped up over 50; the other thresholds raised above the
        # values they watch (a spend only grows within its period).
        fp.wallets.top_up_wallet(
            id=wallet.id, credits_to_add="20", transaction_reason="FREE_CREDIT_GRANT"
        )
        for kind, level, value in (
            ("subscription", "critical", "50"),
            ("subscription_line_item", "warning", "50"),
            ("entitlement_grant", "critical", "200"),
        ):
            fp.alert_settings.update_alert_settings(
                id=ids[kind],
                config={
                    "alert_enabled": True,
                    "alert_threshold_type": (
                        "percentage" if kind == "entitlement_grant" else "absolute"
                    ),
                    level: {"condition": "above", "threshold": value},
                },
            )
        received = receiver.wait_for(path, 8)
        time.sleep(1.0)
        assert len(receiver.at(path)) == 8
        log = _deliveries(http, hook["id"], 8)
        crossed_ids = {r.headers["webhook-id"] for r in crossed}
        _check_bodies(received, crossed_ids, log, hook["secret"], customer.id, sub.id, wallet.id)
        _check_log(fp, http, customer.id, wallet.id)
        http.close()
    finally:
        stop_server(second)


def _check_bodies(
    received: list[Any],
    crossed_ids: set[str],
    log: list[dict[str, Any]],
    secret: str,
    customer_id: str,
    sub_id: str,
    wallet_id: str,
) -> None:
    by_id = {r.headers["webhook-id"]: r for r in received}
    assert len(by_id) == 8
    assert sorted(d["event_type"] for d in log) == sorted(ALERTS)
    # the crossings arrived before the restart, the recoveries after it
    before = {d["event_type"] for d in log if d["message_id"] in crossed_ids}
    assert all(not t.endswith(("recovered",)) for t in before) and len(before) == 4
    seen: dict[str, tuple[Any, ...]] = {}
    for delivery in log:
        event_type = delivery["event_type"]
        body = Webhook(secret).verify(
            by_id[delivery["message_id"]].body, by_id[delivery["message_id"]].headers
        )
        assert isinstance(body, dict)
        if event_type.startswith("wallet."):
            wallet = fm.WebhookDtoWalletWebhookPayload.model_validate(body)
            assert wallet.event_type == event_type and wallet.wallet is not None
            assert wallet.alert is not None and wallet.customer is not None
            assert (wallet.wallet.id, wallet.customer.id) == (wallet_id, customer_id)
            seen[event_type] = (wallet.alert.state, wallet.wallet.credit_balance)
        elif event_type.startswith("subscription."):
            spend = fm.WebhookDtoSpendAlertEvent.model_validate(body)
            assert spend.subscription is not None and spend.subscription.id == sub_id
            seen[event_type] = (spend.alert_status, spend.current_spend, spend.threshold)
        else:
            assert body["customer_id"] == customer_id and body["event_type"] == event_type
            seen[event_type] = (body["alert_status"], body["usage"], body["threshold"])
    assert seen == {
        "wallet.credit_balance.dropped": ("in_alarm", "40"),
        "wallet.credit_balance.recovered": ("ok", "60"),
        "subscription.spend.threshold_reached": ("in_alarm", "4", "3"),
        "subscription.spend.threshold_recovered": ("ok", "4", "50"),
        "subscription.line_item_spend.threshold_reached": ("warning", "4", "2"),
        "subscription.line_item_spend.threshold_recovered": ("ok", "4", "50"),
        "entitlement.usage_threshold.reached": ("in_alarm", "900", "80"),
        "entitlement.usage_threshold.recovered": ("ok", "900", "200"),
    }


def _check_log(fp: Flexprice, http: httpx.Client, customer_id: str, wallet_id: str) -> None:
    everything = fp.alerts.query_alert_log(limit=50)
    assert everything.items is not None and len(everything.items) == 8
    recovered = fp.alerts.query_alert_log(alert_status="ok")
    assert recovered.items is not None and len(recovered.items) == 4
    walleted = fp.alerts.query_alert_log(entity_type="wallet", entity_id=wallet_id)
    assert walleted.items is not None
    assert [i.alert_status for i in walleted.items] == ["ok", "in_alarm"]  # newest first
    mine = fp.alerts.query_alert_log(customer_id=customer_id, alert_type="subscription_spend")
    assert mine.items is not None and len(mine.items) == 2
    refused = http.post("/v1/alerts/search", json={"alert_status": "loud"})
    assert refused.status_code == 400 and "alert_status" in refused.text
    refused = http.post("/v1/alerts/search", json={"filters": [{"field": "x"}]})
    assert refused.status_code == 400 and "filters" in refused.text
