"""Wallets over real HTTP with the flexprice SDK: create, top-up, balance, ledger, expiry,
idempotency, terminate, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.conftest import unique

D = Decimal


def new_customer(fp: Flexprice) -> Any:
    external_id = unique("cust")
    return fp.customers.create_customer(external_id=external_id, name="Wallet Co")


def test_create_top_up_balance_and_transactions(fp: Flexprice) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="100"
    )
    assert wallet.id.startswith("wallet_")
    assert (wallet.credit_balance, wallet.balance) == ("100", "100")
    assert wallet.wallet_status == "active"

    topped = fp.wallets.top_up_wallet(
        id=wallet.id, credits_to_add="50", transaction_reason="FREE_CREDIT_GRANT"
    )
    assert topped.wallet.credit_balance == "150"
    assert topped.wallet_transaction.type == "credit"
    assert topped.wallet_transaction.credit_balance_before == "100"
    assert topped.wallet_transaction.credit_balance_after == "150"

    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert (balance.credit_balance, balance.balance, balance.real_time_balance) == (
        "150",
        "150",
        "150",
    )
    history = fp.wallets.get_wallet_transactions(id_path_parameter=wallet.id)
    assert history.pagination.total == 2
    assert [t.credit_amount for t in history.items] == ["50", "100"]
    assert [t.transaction_reason for t in history.items] == [
        "FREE_CREDIT_GRANT",
        "FREE_CREDIT_GRANT",
    ]
    by_customer = fp.wallets.get_wallets_by_customer_id(id=customer.id)
    assert [w.id for w in by_customer] == [wallet.id]
    assert by_customer[0].credit_balance == "150"


def test_conversion_rate_turns_money_into_credits(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd", conversion_rate="2")
    response = http.post(
        f"/v1/wallets/{wallet.id}/top-up",
        json={"amount": "10", "transaction_reason": "PURCHASED_CREDIT_DIRECT"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["wallet"]["credit_balance"] == "5"
    assert response.json()["wallet"]["balance"] == "10"
    assert response.json()["wallet_transaction"]["amount"] == "10"


def test_reused_idempotency_key_adds_nothing_twice(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="eur")
    body = {"credits_to_add": "25", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
    first = http.post(f"/v1/wallets/{wallet.id}/top-up", json={**body, "idempotency_key": "k1"})
    again = http.post(f"/v1/wallets/{wallet.id}/top-up", json={**body, "idempotency_key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.json()["wallet_transaction"]["id"] == first.json()["wallet_transaction"]["id"]
    other = http.post(
        f"/v1/wallets/{wallet.id}/top-up",
        json={**body, "credits_to_add": "26", "idempotency_key": "k1"},
    )
    assert other.status_code == 409
    assert "idempotency_key" in other.json()["message"]
    assert fp.wallets.get_wallet_balance(id=wallet.id).credit_balance == "25"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credits_to_add": "0", "transaction_reason": "FREE_CREDIT_GRANT"}, "credits_to_add"),
        ({"credits_to_add": "-5", "transaction_reason": "FREE_CREDIT_GRANT"}, "credits_to_add"),
        ({"transaction_reason": "FREE_CREDIT_GRANT"}, "credits_to_add"),
        ({"credits_to_add": "5", "transaction_reason": "INVOICE_PAYMENT"}, "transaction_reason"),
        ({"credits_to_add": "5", "transaction_reason": "FREE_CREDIT_GRANT", "priority": -1}, ""),
        (
            {
                "credits_to_add": "5",
                "transaction_reason": "FREE_CREDIT_GRANT",
                "expiry_date_utc": "2001-01-01T00:00:00Z",
            },
            "expiry_date_utc",
        ),
        ({"credits_to_add": "NaN", "transaction_reason": "FREE_CREDIT_GRANT"}, ""),
    ],
)
def test_bad_top_ups_are_400_and_change_nothing(
    http: httpx.Client, fp: Flexprice, body: dict[str, Any], field: str
) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="1"
    )
    response = http.post(f"/v1/wallets/{wallet.id}/top-up", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    if field:
        assert field in str(response.json().get("details"))
    assert fp.wallets.get_wallet_transactions(id_path_parameter=wallet.id).pagination.total == 1


def test_unknown_currency_and_duplicate_wallet_are_refused(
    http: httpx.Client, fp: Flexprice
) -> None:
    customer = new_customer(fp)
    response = http.post("/v1/wallets", json={"customer_id": customer.id, "currency": "xyz"})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "currency"
    fp.wallets.create_wallet(customer_id=customer.id, currency="usd")
    again = http.post("/v1/wallets", json={"customer_id": customer.id, "currency": "USD"})
    assert again.status_code == 409
    missing = http.post("/v1/wallets", json={"customer_id": "cust_missing", "currency": "usd"})
    assert missing.status_code == 404


def test_credits_are_consumed_by_priority_then_expiry_then_age(
    http: httpx.Client, fp: Flexprice
) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd")

    def top_up(amount: str, **extra: Any) -> str:
        response = http.post(
            f"/v1/wallets/{wallet.id}/top-up",
            json={"credits_to_add": amount, "transaction_reason": "FREE_CREDIT_GRANT", **extra},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["wallet_transaction"]["id"])

    plain_small = top_up("10")
    plain_large = top_up("20")
    expiring = top_up("5", expiry_date_utc="2199-01-01T00:00:00Z")
    prioritized = top_up("3", priority=1)
    # A one-off invoice of 30.00 paid from the wallet at finalization.
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id, currency="usd", amount_due="30", subtotal="30", total="30"
    )
    fp.invoices.finalize_invoice(id=invoice.id)
    paid = fp.invoices.get_invoice(id=invoice.id)
    assert paid.total_prepaid_credits_applied == "30"
    assert paid.amount_due == "0"
    assert paid.payment_status == "SUCCEEDED"
    left = {
        t["id"]: t["credits_available"]
        for t in http.get(f"/v1/wallets/{wallet.id}/transactions").json()["items"]
        if t["type"] == "credit"
    }
    # priority 1 first (3), then the expiring grant (5), then the older plain grant (10),
    # then 12 of the newer one, although it is the larger.
    assert left == {prioritized: "0", expiring: "0", plain_small: "0", plain_large: "8"}
    assert fp.wallets.get_wallet_balance(id=wallet.id).credit_balance == "8"


def test_terminate_empties_and_closes_the_wallet(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="40"
    )
    result = fp.wallets.terminate_wallet(id=wallet.id)
    assert (result.wallet_status, result.credit_balance) == ("closed", "0")
    closed = fp.wallets.get_wallet(id=wallet.id)
    assert (closed.wallet_status, closed.credit_balance) == ("closed", "0")
    last = fp.wallets.get_wallet_transactions(id_path_parameter=wallet.id).items[0]
    assert (last.type, last.transaction_reason, last.credit_amount) == (
        "debit",
        "WALLET_TERMINATION",
        "40",
    )
    refused = http.post(
        f"/v1/wallets/{wallet.id}/top-up",
        json={"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT"},
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_operation"
    with pytest.raises((errors.ErrorResponse, errors.FlexpriceDefaultError)):
        fp.wallets.terminate_wallet(id=wallet.id)


def test_update_wallet_and_unknown_wallet(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd")
    updated = fp.wallets.update_wallet(id=wallet.id, name="Main", metadata={"team": "a"})
    assert (updated.name, updated.metadata) == ("Main", {"team": "a"})
    assert http.get("/v1/wallets/wallet_nope").status_code == 404
    assert http.get("/v1/wallets/wallet_nope/transactions").status_code == 404
