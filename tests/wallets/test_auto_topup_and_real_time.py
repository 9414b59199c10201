"""Wallet auto top-up (once per threshold crossing, cool-off) and the real-time balance
(less the usage accrued but not yet invoiced), through the SDK over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from flexprice import Flexprice

from meterline.wallets import auto_topup
from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import unique


def _pay(fp: Flexprice, customer_id: str, total: str) -> None:
    invoice = fp.invoices.create_invoice(
        customer_id=customer_id, currency="usd", amount_due=total, subtotal=total, total=total
    )
    fp.invoices.finalize_invoice(id=invoice.id)


def _ledger(http: httpx.Client, wallet_id: str) -> list[tuple[str, str, str]]:
    items = http.get(f"/v1/wallets/{wallet_id}/transactions", params={"order": "asc"}).json()
    return [(t["type"], t["transaction_reason"], t["credit_amount"]) for t in items["items"]]


def test_auto_topup_fires_once_per_crossing_and_honours_its_cooldown(
    fp: Flexprice, http: httpx.Client
) -> None:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Auto Co")
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id,
        currency="usd",
        initial_credits_to_load="100",
        auto_topup={"enabled": True, "threshold": 50, "amount": 5},
    )
    assert wallet.auto_topup is not None
    assert (wallet.auto_topup.enabled, wallet.auto_topup.threshold, wallet.auto_topup.amount) == (
        True,
        50,
        5,
    )
    _pay(fp, customer.id, "60")  # 40 < 50: one top-up of 5 -> 45, still under: disarmed
    _pay(fp, customer.id, "10")  # 35: the same crossing, nothing
    fp.wallets.top_up_wallet(
        id=wallet.id, credits_to_add="20", transaction_reason="FREE_CREDIT_GRANT"
    )  # 55: recovered, armed again
    _pay(fp, customer.id, "10")  # 45: a new crossing, one top-up -> 50
    assert fp.wallets.get_wallet(id=wallet.id).credit_balance == "50"
    assert _ledger(http, wallet.id) == [
        ("credit", "FREE_CREDIT_GRANT", "100"),
        ("debit", "INVOICE_PAYMENT", "60"),
        ("credit", "PURCHASED_CREDIT_DIRECT", "5"),
        ("debit", "INVOICE_PAYMENT", "10"),
        ("credit", "FREE_CREDIT_GRANT", "20"),
        ("debit", "INVOICE_PAYMENT", "10"),
        ("credit", "PURCHASED_CREDIT_DIRECT", "5"),
    ]
    # New settings (armed again), invoiced, with a day's cool-off.
    updated = fp.wallets.update_wallet(
        id=wallet.id,
        auto_topup={
            "enabled": True,
            "threshold": 60,
            "amount": 10,
            "invoicing": True,
            "cooldown": {"unit": "day", "value": 1},
        },
    )
    assert updated.auto_topup is not None and updated.auto_topup.cooldown is not None
    assert (updated.auto_topup.cooldown.unit, updated.auto_topup.cooldown.value) == ("day", 1)
    _pay(fp, customer.id, "1")  # 49 < 60: fires -> 59 (invoiced top-up)
    fp.wallets.top_up_wallet(
        id=wallet.id, credits_to_add="10", transaction_reason="FREE_CREDIT_GRANT"
    )  # 69: armed
    _pay(fp, customer.id, "10")  # 59 < 60 within the cool-off: nothing
    assert _ledger(http, wallet.id)[7:] == [
        ("debit", "INVOICE_PAYMENT", "1"),
        ("credit", "PURCHASED_CREDIT_INVOICED", "10"),
        ("credit", "FREE_CREDIT_GRANT", "10"),
        ("debit", "INVOICE_PAYMENT", "10"),
    ]
    for bad, field in (
        ({"enabled": True, "threshold": 5, "amount": 0}, "auto_topup.amount"),
        ({"enabled": True, "threshold": -1, "amount": 1}, "auto_topup.threshold"),
        ({"enabled": True, "amount": 1, "cooldown": {"unit": "week", "value": 1}}, "unit"),
    ):
        refused = http.put(f"/v1/wallets/{wallet.id}", json={"auto_topup": bad})
        assert refused.status_code == 400, refused.text
        assert field in refused.text
    assert fp.wallets.get_wallet(id=wallet.id).auto_topup.threshold == 60
    # Turned off: no amount needed, and no more top-ups.
    off = fp.wallets.update_wallet(id=wallet.id, auto_topup={"enabled": False})
    assert off.auto_topup is not None and off.auto_topup.enabled is False
    before = len(_ledger(http, wallet.id))
    _pay(fp, customer.id, "50")
    assert len(_ledger(http, wallet.id)) == before + 1


def test_auto_topup_cooldown_ends() -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    settings = auto_topup.AutoTopup(
        enabled=True,
        threshold=Decimal(10),
        amount=Decimal(5),
        cooldown_unit="hour",
        cooldown_value=2,
        last_at=now,
    )
    assert not auto_topup.fires(settings, Decimal(9), now + timedelta(hours=1, minutes=59))
    assert auto_topup.fires(settings, Decimal(9), now + timedelta(hours=2))
    assert not auto_topup.fires(settings, Decimal(10), now + timedelta(hours=3))
    disarmed = auto_topup.fired(settings, now)
    assert not auto_topup.fires(disarmed, Decimal(0), now + timedelta(days=1))
    assert auto_topup.after_credit(disarmed, Decimal("9.99")) is None
    assert auto_topup.after_credit(disarmed, Decimal(10)) == auto_topup.AutoTopup(
        **{**disarmed.__dict__, "armed": True}
    )


def test_real_time_balance_subtracts_usage_accrued_but_not_invoiced(fp: Flexprice) -> None:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Accrual Co")
    feature = tokens_feature(fp, event="call")
    plan = fp.plans.create_plan(name="Usage", lookup_key=unique("usage"))
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="FLAT_FEE",
        amount="0.01",
        invoice_cadence="ARREAR",
    )
    fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="150"
    )
    events: list[dict[str, Any]] = [
        {
            "event_name": feature.meter.event_name,
            "external_customer_id": customer.external_id,
            "event_id": unique("e"),
            "properties": {"tokens": tokens},
        }
        for tokens in ("1000", "2000", "400")
    ]
    fp.events.ingest_events_bulk(events=events)
    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    # 3,400 tokens at 0.01 = 34.00 accrued: 150 on the ledger, 116 in real time.
    assert (balance.credit_balance, balance.balance) == ("150", "150")
    assert (balance.current_period_usage, balance.real_time_balance) == ("34", "116")
    assert balance.real_time_credit_balance == "116"
    with_real_time = fp.wallets.get_customer_wallets(id=customer.id, include_real_time_balance=True)
    assert [w.real_time_balance for w in with_real_time] == ["116"]
