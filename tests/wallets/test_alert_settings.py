"""Alert settings on a wallet's credit balance through the SDK: CRUD, search, and the
wallet's ``alert_state`` following the balance through each level; bad input refused."""

from __future__ import annotations

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.conftest import unique


def _pay(fp: Flexprice, customer_id: str, total: str) -> None:
    invoice = fp.invoices.create_invoice(
        customer_id=customer_id, currency="usd", amount_due=total, subtotal=total, total=total
    )
    fp.invoices.finalize_invoice(id=invoice.id)


def test_wallet_alert_settings_follow_the_balance_through_each_level(
    fp: Flexprice, http: httpx.Client
) -> None:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Alert Co")
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="100"
    )
    setting = fp.alert_settings.create_alert_settings(
        entity_type="wallet",
        entity_id=wallet.id,
        parent_entity_type="subscription",
        parent_entity_id="subs_parent",
        config={
            "alert_enabled": True,
            "alert_threshold_type": "absolute",
            "critical": {"condition": "below", "threshold": "10"},
            "warning": {"condition": "below", "threshold": "50"},
            "info": {"condition": "below", "threshold": "80.5"},
        },
    )
    assert (setting.entity_type, setting.entity_id, setting.enabled) == ("wallet", wallet.id, True)
    assert setting.config is not None and setting.config.info is not None
    assert setting.config.info.threshold == "80.5"

    def state() -> str:
        one = fp.wallets.get_wallet(id=wallet.id).alert_state
        listed = fp.wallets.get_wallets_by_customer_id(id=customer.id)[0].alert_state
        assert one == listed
        return str(one)

    assert state() == "ok"  # 100
    _pay(fp, customer.id, "30")
    assert state() == "info"  # 70
    _pay(fp, customer.id, "25")
    assert state() == "warning"  # 45
    _pay(fp, customer.id, "40")
    assert state() == "in_alarm"  # 5
    assert fp.wallets.get_wallet_balance(id=wallet.id).alert_state == "in_alarm"

    # Replaced whole: only an "above" level now, and then disabled.
    updated = fp.alert_settings.update_alert_settings(
        id=setting.id,
        config={
            "alert_threshold_type": "absolute",
            "info": {"condition": "above", "threshold": "1"},
        },
    )
    assert updated.config is not None and updated.config.critical is None
    assert state() == "info"
    fp.alert_settings.update_alert_settings(
        id=setting.id,
        config={"alert_enabled": False, "info": {"condition": "above", "threshold": "1"}},
    )
    assert state() == "ok"
    got = fp.alert_settings.get_alert_settings(id=setting.id)
    assert (got.enabled, got.parent_entity_id) == (False, "subs_parent")
    found = fp.alert_settings.query_alert_settings(entity_ids=[wallet.id], enabled=False)
    assert [s.id for s in found.items] == [setting.id]
    assert fp.alert_settings.query_alert_settings(entity_ids=[wallet.id], enabled=True).items == []

    # One setting per wallet; bad settings name the field; nothing is written.
    again = {
        "entity_type": "wallet",
        "entity_id": wallet.id,
        "config": {"critical": {"condition": "below", "threshold": "1"}},
    }
    assert http.post("/v1/alerts/setting", json=again).status_code == 409
    for change, field in (
        ({"config": {"alert_enabled": True}}, "config"),
        ({"entity_type": "feature"}, "entity_type"),
        (
            {
                "config": {
                    "alert_threshold_type": "percentage",
                    "info": {"condition": "below", "threshold": "5"},
                }
            },
            "alert_threshold_type",
        ),
        ({"config": {"warning": {"threshold": "5"}}}, "config.warning.condition"),
        (
            {"config": {"warning": {"condition": "sideways", "threshold": "5"}}},
            "config.warning.condition",
        ),
        ({"config": {"warning": {"condition": "below"}}}, "config.warning.threshold"),
        ({"parent_entity_type": "wallet"}, "parent_entity_id"),
    ):
        refused = http.post("/v1/alerts/setting", json={**again, **change})
        assert refused.status_code == 400, (change, refused.text)
        assert field in refused.text
    missing = http.post("/v1/alerts/setting", json={**again, "entity_id": "wallet_missing"})
    assert missing.status_code == 404

    fp.alert_settings.delete_alert_settings(id=setting.id)
    with pytest.raises((errors.ErrorResponse, errors.FlexpriceDefaultError)):
        fp.alert_settings.get_alert_settings(id=setting.id)
    assert fp.wallets.get_wallet(id=wallet.id).alert_state == "ok"


def test_a_wallet_body_carries_its_alert_settings(fp: Flexprice, http: httpx.Client) -> None:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Alert Body Co")
    bad = http.post(
        "/v1/wallets",
        json={
            "customer_id": customer.id,
            "currency": "usd",
            "alert_settings": {"alert_enabled": True},
        },
    )
    assert bad.status_code == 400 and "config" in bad.text
    assert fp.wallets.get_wallets_by_customer_id(id=customer.id) == []  # nothing half-made
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id,
        currency="usd",
        initial_credits_to_load="20",
        alert_settings={"critical": {"condition": "below", "threshold": "25"}},
    )
    assert wallet.alert_state == "in_alarm"
    assert wallet.alert_settings is not None and wallet.alert_settings.critical is not None
    assert wallet.alert_settings.critical.threshold == "25"
    updated = fp.wallets.update_wallet(
        id=wallet.id, alert_settings={"warning": {"condition": "below", "threshold": "21"}}
    )
    assert updated.alert_state == "warning"
    assert updated.alert_settings is not None and updated.alert_settings.critical is None
    found = fp.alert_settings.query_alert_settings(entity_id=wallet.id)
    assert [s.config.warning.threshold for s in found.items if s.config and s.config.warning] == [
        "21"
    ]
    alerting = fp.wallets.query_wallet(wallet_ids=[wallet.id], alert_enabled=True)
    assert [w.id for w in alerting.items] == [wallet.id]
    quiet = fp.wallets.query_wallet(wallet_ids=[wallet.id], alert_enabled=False)
    assert quiet.items == []
