"""Offline payments and refunds through the official SDK, on every backend: recorded by the
vendor, once per idempotency key; status flows back to the invoice; overpayment is held as
customer credit; refunds (credit notes on a paid invoice) never exceed what was paid; bad
input is a 400/409 that changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.payments.builders import amounts, customer, finalized_invoice


def _refused(call: Any, status: int = 400, *words: str) -> str:
    with pytest.raises(errors.FlexpriceError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.body
    for word in words:
        assert word in refused.value.body, refused.value.body
    return str(refused.value.body)


def test_offline_payments_flow_back_to_the_invoice(fp: Any, http: httpx.Client) -> None:
    buyer = customer(http)
    inv = finalized_invoice(http, buyer["id"], "100")
    base = {
        "destination_type": "INVOICE",
        "destination_id": inv["id"],
        "payment_method_type": "OFFLINE",
        "currency": "usd",
    }

    # Bad input changes nothing.
    _refused(
        lambda: fp.payments.create_payment(**{**base, "currency": "eur"}, amount="10"),
        400,
        "currency",
    )
    _refused(lambda: fp.payments.create_payment(**base, amount="0.001"), 400, "amount")
    _refused(lambda: fp.payments.create_payment(**base, amount="-1"), 400, "amount")
    _refused(
        lambda: fp.payments.create_payment(**{**base, "payment_method_type": "UPI"}, amount="10"),
        400,
        "payment_method_type",
    )
    unknown = http.post("/v1/payments", json={**base, "amount": "10", "payment_method_type": "BTC"})
    assert unknown.status_code == 400 and "payment_method_type" in unknown.text
    # A card payment needs the stripe provider, which this server does not have.
    card = {**base, "payment_method_type": "CARD", "payment_gateway": "stripe"}
    _refused(lambda: fp.payments.create_payment(**card, amount="10"), 400, "payment_gateway")
    _refused(
        lambda: fp.payments.create_payment(**{**card, "payment_gateway": "razorpay"}, amount="10"),
        400,
        "payment_gateway",
    )
    _refused(
        lambda: fp.payments.create_payment(**{**base, "destination_id": "inv_nope"}, amount="10"),
        404,
    )
    refused = http.post("/v1/payments", json={**base, "amount": "10", "success_url": "https://x"})
    assert refused.status_code == 400 and "success_url" in refused.text
    assert amounts(http, inv["id"]) == ("PENDING", "0", "100", "0")
    assert fp.payments.list_payments(destination_id=inv["id"]).items == []

    # Recorded once per idempotency key.
    first = fp.payments.create_payment(
        **base, amount="40", idempotency_key="cheque-1", metadata={"cheque": "001"}
    )
    assert (first.payment_status, first.amount, first.payment_gateway) == ("SUCCEEDED", "40", None)
    assert first.invoice_number == inv["invoice_number"] and first.metadata == {"cheque": "001"}
    assert [a.attempt_number for a in first.attempts] == [1]
    again = fp.payments.create_payment(**base, amount="40", idempotency_key="cheque-1")
    assert again.id == first.id
    assert amounts(http, inv["id"]) == ("PENDING", "40", "60", "0")
    _refused(
        lambda: fp.payments.create_payment(**base, amount="41", idempotency_key="cheque-1"),
        409,
        "idempotency_key",
    )

    # Offline, the vendor records what arrived: 70 on 60 left overpays, the 10 held.
    over = fp.payments.create_payment(**base, amount="70")
    assert over.payment_status == "SUCCEEDED"
    assert over.gateway_metadata["held_as_customer_credit"] == "10"
    assert amounts(http, inv["id"]) == ("OVERPAID", "110", "0", "0")
    _refused(lambda: fp.payments.create_payment(**base, amount="1"), 409, "nothing left")

    # A refund: a credit note on the paid invoice, given back out of band (newest first).
    line = http.get(f"/v1/invoices/{inv['id']}").json()["line_items"][0]["id"]
    note = fp.credit_notes.create_credit_note(
        invoice_id=inv["id"],
        reason="SERVICE_ISSUE",
        line_items=[{"invoice_line_item_id": line, "amount": "30"}],
        refund_target="BACK_TO_SOURCE",
    )
    assert note.credit_note_type == "REFUND" and note.credit_note_status == "FINALIZED"
    [refund] = fp.refunds.list_refunds(invoice_ids=[inv["id"]]).items
    assert (refund.amount, refund.refund_status, refund.refund_destination) == (
        "30",
        "SUCCEEDED",
        "OUT_OF_BAND",
    )
    assert refund.payment_id == over.id and refund.credit_note_id == note.id
    assert fp.refunds.get_refund(id=refund.id).settled_amount == "30"
    assert fp.payments.get_payment(id=over.id).payment_status == "PARTIALLY_REFUNDED"
    assert amounts(http, inv["id"]) == ("PARTIALLY_REFUNDED", "110", "0", "30")
    _refused(lambda: fp.refunds.retry_refund(id=refund.id), 400, "failed refund")
    _refused(lambda: fp.payments.delete_payment(id=first.id), 400, "moved money")


def test_pending_failed_retried_deleted_and_refund_limits(fp: Any, http: httpx.Client) -> None:
    buyer = customer(http)
    # 30 of a 100 invoice is paid from the wallet at finalize: 70 is left to pay.
    wallet = http.post(
        "/v1/wallets",
        json={"customer_id": buyer["id"], "currency": "usd", "initial_credits_to_load": "30"},
    )
    assert wallet.status_code in (200, 201), wallet.text
    inv = finalized_invoice(http, buyer["id"], "100")
    assert amounts(http, inv["id"]) == ("PENDING", "0", "70", "0")
    base = {"destination_type": "INVOICE", "destination_id": inv["id"], "currency": "usd"}

    transfer = fp.payments.create_payment(
        **base, payment_method_type="OFFLINE", amount="70", process_payment=False
    )
    assert transfer.payment_status == "PENDING" and transfer.attempts == []
    tracked = fp.payments.update_payment(
        id=transfer.id, gateway_tracking_id="wire-77", metadata={"bank": "x"}
    )
    assert (tracked.gateway_tracking_id, tracked.metadata) == ("wire-77", {"bank": "x"})
    bounced = fp.payments.update_payment(
        id=transfer.id, payment_status="FAILED", error_message="returned by the bank"
    )
    assert (bounced.payment_status, bounced.error_message) == ("FAILED", "returned by the bank")
    assert amounts(http, inv["id"]) == ("FAILED", "0", "70", "0")  # still due
    _refused(lambda: fp.payments.update_payment(id=transfer.id, payment_status="REFUNDED"), 400)
    _refused(lambda: http_put(http, transfer.id, {"succeeded_at": "2026-01-01T00:00:00Z"}), 400)

    paid = fp.payments.process_payment(id=transfer.id)
    assert paid.payment_status == "SUCCEEDED" and len(paid.attempts) == 2
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "70", "0", "0")
    _refused(lambda: fp.payments.process_payment(id=transfer.id), 400, "SUCCEEDED")

    # Nothing is refunded past what was paid (70; the wallet's 30 is not a payment).
    line = http.get(f"/v1/invoices/{inv['id']}").json()["line_items"][0]["id"]

    def refund(amount: str, **extra: Any) -> httpx.Response:
        return http.post(
            "/v1/creditnotes",
            json={
                "invoice_id": inv["id"],
                "reason": "DUPLICATE",
                "line_items": [{"invoice_line_item_id": line, "amount": amount}],
                **extra,
            },
        )

    over = refund("70.01")
    assert over.status_code == 400 and "above what was paid" in over.text, over.text
    assert refund("10", refund_target="SOMEWHERE").status_code == 400
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "70", "0", "0")
    assert fp.refunds.list_refunds(invoice_ids=[inv["id"]]).items == []

    # To the wallet: refused by the provider (the wallet was terminated), then retried.
    http.post(f"/v1/wallets/{wallet.json()['id']}/terminate")
    to_wallet = refund("20", refund_target="PREPAID_WALLET")
    assert to_wallet.status_code == 201, to_wallet.text
    [failed] = fp.refunds.list_refunds(invoice_ids=[inv["id"]], refund_statuses=["FAILED"]).items
    assert failed.refund_destination == "WALLET" and "wallet" in failed.failure_reason
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "70", "0", "0")
    fresh = http.post("/v1/wallets", json={"customer_id": buyer["id"], "currency": "usd"})
    assert fresh.status_code in (200, 201), fresh.text
    retried = fp.refunds.retry_refund(id=failed.id)
    assert (retried.refund_status, retried.attempt) == ("SUCCEEDED", 2)
    assert retried.refund_destination_id == fresh.json()["id"]
    assert amounts(http, inv["id"]) == ("PARTIALLY_REFUNDED", "70", "0", "20")
    assert refund("50.01").status_code == 400  # 50 left to refund
    rest = refund("50")
    assert rest.status_code == 201, rest.text
    assert amounts(http, inv["id"]) == ("REFUNDED", "70", "0", "70")
    # The wallet's 20 was not taken from the payment: 50 of its 70 went back to it.
    assert fp.payments.get_payment(id=transfer.id).payment_status == "PARTIALLY_REFUNDED"

    # Only a payment that moved no money is deleted.
    other = finalized_invoice(http, customer(http)["id"], "5")  # no wallet pays it
    pending = fp.payments.create_payment(
        destination_type="INVOICE",
        destination_id=other["id"],
        currency="usd",
        payment_method_type="OFFLINE",
        amount="5",
        process_payment=False,
    )
    fp.payments.delete_payment(id=pending.id)
    _refused(lambda: fp.payments.get_payment(id=pending.id), 404)
    assert [p.id for p in fp.payments.list_payments(status="deleted").items] == [pending.id]


def http_put(http: httpx.Client, payment_id: str, body: dict[str, Any]) -> None:
    response = http.put(f"/v1/payments/{payment_id}", json=body)
    if response.status_code != 200:
        raise errors.FlexpriceError(response.text, response, response.text)


def test_integration_mappings_and_held_customer_credit(fp: Any, http: httpx.Client) -> None:
    buyer = customer(http)
    linked = fp.integrations.link_integration_mapping(
        entity_type="customer",
        entity_id=buyer["id"],
        provider_type="stripe",
        provider_entity_id="cus_123",
        metadata={"source": "import"},
    )
    assert linked.mapping.provider_entity_id == "cus_123"
    assert linked.mapping.metadata == {"source": "import"}
    same = fp.integrations.link_integration_mapping(
        entity_type="customer",
        entity_id=buyer["id"],
        provider_type="stripe",
        provider_entity_id="cus_123",
    )
    assert same.mapping.id == linked.mapping.id
    _refused(
        lambda: fp.integrations.link_integration_mapping(
            entity_type="customer",
            entity_id=buyer["id"],
            provider_type="stripe",
            provider_entity_id="cus_other",
        ),
        409,
    )
    _refused(
        lambda: fp.integrations.link_integration_mapping(
            entity_type="customer",
            entity_id="cust_of_nobody",
            provider_type="stripe",
            provider_entity_id="cus_x",
        ),
        404,
    )
    found = fp.integrations.get_entity_integration_mappings(
        entity_type="customer", entity_id=buyer["id"]
    )
    assert [m.provider_entity_id for m in found.items] == ["cus_123"]
    assert [i.provider for i in fp.integrations.get_integration_config().integrations] == ["stripe"]
    fp.integrations.delink_integration_mapping(
        entity_type="customer", entity_id=buyer["id"], provider_type="stripe"
    )
    assert (
        fp.integrations.get_entity_integration_mappings(
            entity_type="customer", entity_id=buyer["id"]
        ).items
        == []
    )
    _refused(
        lambda: fp.integrations.delink_integration_mapping(
            entity_type="customer", entity_id=buyer["id"], provider_type="stripe"
        ),
        404,
    )
    # Stripe is not configured here: no provider lists methods, asking for one is a 400.
    assert fp.customers.list_customer_payment_methods(id=buyer["id"]).providers == []
    _refused(
        lambda: fp.customers.list_customer_payment_methods(id=buyer["id"], providers=["stripe"]),
        400,
    )
    # An offline prepayment is held as the customer's credit.
    held = fp.payments.create_payment(
        destination_type="CUSTOMER",
        destination_id=buyer["id"],
        currency="usd",
        payment_method_type="OFFLINE",
        amount="12.5",
    )
    assert held.payment_status == "SUCCEEDED"
    assert held.gateway_metadata["held_as_customer_credit"] == "12.5"


def test_voiding_an_overpaid_invoice_keeps_the_excess_held(fp: Any, http: httpx.Client) -> None:
    buyer = customer(http)
    inv = finalized_invoice(http, buyer["id"], "10", currency="eur")
    over = fp.payments.create_payment(
        destination_type="INVOICE",
        destination_id=inv["id"],
        currency="eur",
        payment_method_type="OFFLINE",
        amount="15",
    )
    assert over.gateway_metadata["held_as_customer_credit"] == "5"
    wallet = http.post("/v1/wallets", json={"customer_id": buyer["id"], "currency": "eur"})
    assert wallet.status_code in (200, 201), wallet.text
    voided = http.post(f"/v1/invoices/{inv['id']}/void")
    assert voided.status_code == 200, voided.text
    # What was due (10) goes back to the wallet; the 5 paid past it stays held.
    balance = http.get(f"/v1/wallets/{wallet.json()['id']}").json()
    assert balance["balance"] == "10", balance
    assert fp.payments.get_payment(id=over.id).gateway_metadata["held_as_customer_credit"] == "5"
