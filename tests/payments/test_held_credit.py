"""Held customer credit (an offline overpayment, a CUSTOMER prepayment) pays the customer's
later invoices in its currency at finalization, oldest first, once; voiding such an invoice
holds the credit again. Through the official SDK, on every backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Tenant, unique
from tests.invoicing.test_clock import bill_to_end, plan_with_fee, subscribe
from tests.payments.builders import amounts, customer, finalized_invoice


def _draft(fp: Any, customer_id: str, amount: str, currency: str = "usd") -> str:
    created = fp.invoices.create_invoice(
        customer_id=customer_id, currency=currency, amount_due=amount, subtotal=amount, total=amount
    )
    return str(created.id)


def _finalized(fp: Any, customer_id: str, amount: str, currency: str = "usd") -> str:
    invoice_id = _draft(fp, customer_id, amount, currency)
    fp.invoices.finalize_invoice(id=invoice_id)
    return invoice_id


def _held(fp: Any, payment_id: str) -> str:
    metadata = fp.payments.get_payment(id=payment_id).gateway_metadata or {}
    return str(metadata.get("held_as_customer_credit", "0"))


def _offline(fp: Any, destination_type: str, destination_id: str, amount: str) -> str:
    paid = fp.payments.create_payment(
        destination_type=destination_type,
        destination_id=destination_id,
        currency="usd",
        payment_method_type="OFFLINE",
        amount=amount,
    )
    assert paid.payment_status == "SUCCEEDED"
    return str(paid.id)


def test_held_credit_pays_later_invoices_and_comes_back_on_void(
    fp: Any, http: httpx.Client
) -> None:
    buyer = customer(http)
    first = finalized_invoice(http, buyer["id"], "100")
    over = _offline(fp, "INVOICE", first["id"], "130")
    assert _held(fp, over) == "30"

    # Another currency's invoice is not paid by USD credit.
    in_euros = _finalized(fp, buyer["id"], "20", "eur")
    assert amounts(http, in_euros) == ("PENDING", "0", "20", "0")
    assert _held(fp, over) == "30"

    # The next USD invoice is paid from it whole; the one after takes what is left.
    paid = _finalized(fp, buyer["id"], "25")
    assert amounts(http, paid) == ("SUCCEEDED", "25", "0", "0")
    assert _held(fp, over) == "5"
    short = _finalized(fp, buyer["id"], "40")
    assert amounts(http, short) == ("PENDING", "5", "35", "0")
    assert _held(fp, over) == "0"

    # A later prepayment; voiding the paid invoice holds its 25 again on the overpayment.
    prepaid = _offline(fp, "CUSTOMER", buyer["id"], "50")
    fp.invoices.void_invoice(id=paid)
    assert amounts(http, paid) == ("REFUNDED", "25", "0", "25")
    assert (_held(fp, over), _held(fp, prepaid)) == ("25", "50")
    # Voided once: a second void is refused and gives nothing more.
    assert http.post(f"/v1/invoices/{paid}/void").status_code in (400, 409)
    assert (_held(fp, over), _held(fp, prepaid)) == ("25", "50")

    # Oldest credit first: the overpayment's 25, then 5 of the prepayment.
    both = _finalized(fp, buyer["id"], "30")
    assert amounts(http, both) == ("SUCCEEDED", "30", "0", "0")
    assert (_held(fp, over), _held(fp, prepaid)) == ("0", "45")

    # Voiding the overpaid invoice: its 30 excess was held (and used), only the 100 it owed
    # goes to the wallet.
    wallet = http.post("/v1/wallets", json={"customer_id": buyer["id"], "currency": "usd"})
    assert wallet.status_code in (200, 201), wallet.text
    fp.invoices.void_invoice(id=first["id"])
    assert http.get(f"/v1/wallets/{wallet.json()['id']}").json()["balance"] == "100"
    assert (_held(fp, over), _held(fp, prepaid)) == ("0", "45")


def test_racing_finalizations_use_held_credit_once(fp: Any, http: httpx.Client) -> None:
    buyer = customer(http)
    held = _offline(fp, "CUSTOMER", buyer["id"], "10")
    drafts = [_draft(fp, buyer["id"], "10") for _ in range(3)]

    def finalize(invoice_id: str) -> int:
        return http.post(f"/v1/invoices/{invoice_id}/finalize").status_code

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(finalize, drafts)) == [200, 200, 200]
    paid = sorted(amounts(http, invoice_id)[1] for invoice_id in drafts)
    assert paid == ["0", "0", "10"]
    assert _held(fp, held) == "0"


def test_the_billing_clock_pays_its_invoices_from_held_credit(
    tenant: Tenant, fp: Any, http: httpx.Client
) -> None:
    plan_id, _meter = plan_with_fee(http, unique("call"))
    [(subscription_id, external_id)] = subscribe(http, plan_id, 1)
    buyer = fp.customers.get_customer_by_external_id(external_id=external_id)
    held = _offline(fp, "CUSTOMER", buyer.id, "15")
    bill_to_end(tenant.server)
    found = http.post("/v1/invoices/search", json={"subscription_id": subscription_id}).json()
    cycle = [i for i in found["items"] if i["billing_reason"] == "SUBSCRIPTION_CYCLE"]
    paid = sorted((Decimal(i["amount_paid"]) for i in cycle), reverse=True)
    # Three periods of 10 closed by the clock: the 15 held pays one whole and half another.
    assert paid == [Decimal(10), Decimal(5), Decimal(0)]
    assert _held(fp, held) == "0"
