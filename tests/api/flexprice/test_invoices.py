"""Invoices over real HTTP with the flexprice SDK: one-off create, finalize (numbering),
payment status, void (rules and wallet refund), search, bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from flexprice import Flexprice

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import unique

NUMBER = re.compile(r"^INV-(\d{6})-(\d{5})$")


def new_customer(fp: Flexprice) -> Any:
    return fp.customers.create_customer(external_id=unique("cust"), name="Invoice Co")


def one_off(fp: Flexprice, customer_id: str, total: str = "25.50", **extra: Any) -> Any:
    return fp.invoices.create_invoice(
        customer_id=customer_id,
        currency="usd",
        amount_due=total,
        subtotal=total,
        total=total,
        **extra,
    )


def test_one_off_invoice_with_lines_is_a_numbered_finalized_invoice(fp: Flexprice) -> None:
    customer = new_customer(fp)
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id,
        currency="USD",
        amount_due="13.01",
        subtotal="13.01",
        total="13.01",
        billing_reason="MANUAL",
        line_items=[
            {"amount": "10.005", "quantity": "1", "display_name": "Setup"},
            {"amount": "3", "quantity": "2", "display_name": "Seats"},
        ],
    )
    assert invoice.id.startswith("inv_")
    assert (invoice.invoice_status, invoice.payment_status, invoice.currency) == (
        "DRAFT",
        "PENDING",
        "usd",
    )
    assert [line.amount for line in invoice.line_items] == ["10.01", "3"]
    assert invoice.subtotal == "13.01" and invoice.invoice_number is None

    result = fp.invoices.finalize_invoice(id=invoice.id)
    assert result.message == "invoice finalized successfully"
    final = fp.invoices.get_invoice(id=invoice.id)
    assert final.invoice_status == "FINALIZED"
    month = datetime.now(UTC).strftime("%Y%m")
    assert final.invoice_number == f"INV-{month}-00001"

    second = one_off(fp, customer.id)
    fp.invoices.finalize_invoice(id=second.id)
    assert fp.invoices.get_invoice(id=second.id).invoice_number == f"INV-{month}-00002"


def test_payment_status_and_void_rules(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    invoice = one_off(fp, customer.id, "40")
    # a draft takes no payment
    draft_pay = http.put(f"/v1/invoices/{invoice.id}/payment", json={"payment_status": "SUCCEEDED"})
    assert draft_pay.status_code == 400 and draft_pay.json()["code"] == "invalid_operation"
    fp.invoices.finalize_invoice(id=invoice.id)
    partly = fp.invoices.update_invoice_payment_status(
        id=invoice.id, payment_status="SUCCEEDED", amount="15"
    )
    assert (partly.amount_paid, partly.amount_remaining, partly.payment_status) == (
        "15",
        "25",
        "PENDING",
    )
    paid = fp.invoices.update_invoice_payment_status(id=invoice.id, payment_status="SUCCEEDED")
    assert (paid.amount_paid, paid.amount_remaining, paid.payment_status) == (
        "40",
        "0",
        "SUCCEEDED",
    )
    assert paid.paid_at is not None
    refinalize = http.post(f"/v1/invoices/{invoice.id}/finalize")
    assert refinalize.status_code == 400 and refinalize.json()["code"] == "invalid_operation"
    failed = http.put(f"/v1/invoices/{invoice.id}/payment", json={"payment_status": "FAILED"})
    assert failed.status_code == 400

    fresh = one_off(fp, customer.id, "5")
    assert fp.invoices.void_invoice(id=fresh.id).message == "invoice voided successfully"
    voided = fp.invoices.get_invoice(id=fresh.id)
    assert (voided.invoice_status, voided.payment_status) == ("VOIDED", "VOIDED")
    assert voided.voided_at is not None
    again = http.post(f"/v1/invoices/{fresh.id}/void")
    assert again.status_code == 400 and again.json()["code"] == "invalid_operation"
    # a processing payment cannot be voided
    busy = one_off(fp, customer.id, "5")
    fp.invoices.finalize_invoice(id=busy.id)
    fp.invoices.update_invoice_payment_status(id=busy.id, payment_status="PROCESSING")
    refused = http.post(f"/v1/invoices/{busy.id}/void")
    assert refused.status_code == 400
    assert fp.invoices.get_invoice(id=busy.id).invoice_status == "FINALIZED"


def test_invoice_paid_partly_from_the_wallet_and_refunded_on_void(
    http: httpx.Client, fp: Flexprice
) -> None:
    customer = new_customer(fp)
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="12.5"
    )
    invoice = one_off(fp, customer.id, "30")
    fp.invoices.finalize_invoice(id=invoice.id)
    final = fp.invoices.get_invoice(id=invoice.id)
    assert final.total_prepaid_credits_applied == "12.5"
    assert (final.subtotal, final.total, final.amount_due, final.amount_remaining) == (
        "30",
        "17.5",
        "17.5",
        "17.5",
    )
    assert final.payment_status == "PENDING"
    assert fp.wallets.get_wallet_balance(id=wallet.id).credit_balance == "0"
    debit = fp.wallets.get_wallet_transactions(id_path_parameter=wallet.id).items[0]
    assert (debit.type, debit.transaction_reason, debit.reference_id, debit.credit_amount) == (
        "debit",
        "INVOICE_PAYMENT",
        invoice.id,
        "12.5",
    )
    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert balance.unpaid_invoices_amount == "17.5"
    assert balance.real_time_balance == "-17.5"

    fp.invoices.void_invoice(id=invoice.id)
    assert fp.wallets.get_wallet_balance(id=wallet.id).credit_balance == "12.5"
    refund = fp.wallets.get_wallet_transactions(id_path_parameter=wallet.id).items[0]
    assert (refund.transaction_reason, refund.credit_amount) == ("INVOICE_VOID_REFUND", "12.5")
    assert fp.invoices.get_invoice(id=invoice.id).payment_status == "REFUNDED"


def test_search_update_and_idempotency(http: httpx.Client, fp: Flexprice) -> None:
    customer = new_customer(fp)
    other = new_customer(fp)
    first = one_off(fp, customer.id, "1", idempotency_key="once")
    again = one_off(fp, customer.id, "1", idempotency_key="once")
    assert again.id == first.id
    clash = http.post(
        "/v1/invoices",
        json={
            "customer_id": customer.id,
            "currency": "usd",
            "amount_due": "2",
            "subtotal": "2",
            "total": "2",
            "idempotency_key": "once",
        },
    )
    assert clash.status_code == 409
    one_off(fp, other.id, "3")
    found = fp.invoices.query_invoice(customer_id=customer.id)
    assert [i.id for i in found.items] == [first.id]
    assert found.pagination.total == 1
    drafts = fp.invoices.query_invoice(customer_id=other.id, invoice_status=["DRAFT"])
    assert found.pagination.total == 1 and drafts.items[0].total == "3"
    updated = fp.invoices.update_invoice(id=first.id, metadata={"po": "42"})
    assert updated.metadata == {"po": "42"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "xyz"}, "currency"),
        ({"total": "-1", "subtotal": "-1", "amount_due": "-1"}, "subtotal"),
        ({"invoice_type": "BOGUS"}, "invoice_type"),
        ({"total": "9", "line_items": [{"amount": "5", "quantity": "1"}]}, "subtotal"),
        ({"line_items": [{"amount": "-5", "quantity": "1"}]}, "line_items[0].amount"),
        ({"total": "abc"}, "total"),
        ({"customer_id": "cust_missing"}, ""),
    ],
)
def test_bad_invoices_are_refused(
    http: httpx.Client, fp: Flexprice, change: dict[str, Any], field: str
) -> None:
    customer = new_customer(fp)
    body = {"customer_id": customer.id, "currency": "usd", "amount_due": "9", "subtotal": "9"}
    body |= {"total": "9", **change}
    response = http.post("/v1/invoices", json=body)
    if change.get("customer_id"):
        assert response.status_code == 404
        return
    assert response.status_code == 400, response.text
    assert field in str(response.json().get("details"))
    assert fp.invoices.query_invoice(customer_id=customer.id).pagination.total == 0


def test_unknown_invoice_is_404(http: httpx.Client) -> None:
    for call in (
        http.get("/v1/invoices/inv_nope"),
        http.post("/v1/invoices/inv_nope/finalize"),
        http.post("/v1/invoices/inv_nope/void"),
        http.put("/v1/invoices/inv_nope/payment", json={"payment_status": "SUCCEEDED"}),
    ):
        assert call.status_code == 404
        assert call.json()["code"] == "not_found"


def test_number_format(fp: Flexprice) -> None:
    customer = new_customer(fp)
    invoice = one_off(fp, customer.id, "0")
    fp.invoices.finalize_invoice(id=invoice.id)
    final = fp.invoices.get_invoice(id=invoice.id)
    match = NUMBER.match(final.invoice_number or "")
    assert match is not None
    assert final.payment_status == "SUCCEEDED"  # nothing to pay


# ---- subscription invoices: opening, preview, cancel with generate_invoice --------------


def smoke_subscription(fp: Flexprice, *, limit: int | None = 500) -> tuple[Any, Any]:
    customer = new_customer(fp)
    feature = tokens_feature(fp, name="API Tokens", event="api_call")
    plan = fp.plans.create_plan(name="Pro", lookup_key=unique("pro"))
    plan_price(
        fp, plan.id, type_="FIXED", billing_model="FLAT_FEE", amount="10", invoice_cadence="ADVANCE"
    )
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="TIERED",
        tier_mode="SLAB",
        tiers=[{"up_to": 1000, "unit_amount": "0.01"}, {"unit_amount": "0.005"}],
        invoice_cadence="ARREAR",
    )
    if limit is not None:
        fp.entitlements.create_entitlement(
            plan_id=plan.id,
            feature_id=feature.id,
            feature_type="metered",
            is_enabled=True,
            usage_limit=limit,
            usage_reset_period="MONTHLY",
        )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    fp.events.ingest_events_bulk(
        events=[
            {
                "event_name": feature.meter.event_name,
                "external_customer_id": customer.external_id,
                "event_id": unique("e"),
                "properties": {"tokens": "100"},
            }
            for _ in range(20)
        ]
    )
    return customer, sub


def test_opening_invoice_carries_the_advance_fee(fp: Flexprice) -> None:
    _customer, sub = smoke_subscription(fp)
    found = fp.invoices.query_invoice(subscription_id=sub.id)
    assert found.pagination.total == 1
    opening = found.items[0]
    assert (opening.billing_reason, opening.invoice_type, opening.total) == (
        "SUBSCRIPTION_CREATE",
        "SUBSCRIPTION",
        "10",
    )
    assert [(line.price_type, line.amount) for line in opening.line_items] == [("FIXED", "10")]


def test_preview_bills_usage_over_the_entitlement_and_the_next_advance_fee(
    fp: Flexprice,
) -> None:
    _customer, sub = smoke_subscription(fp)
    preview = fp.invoices.get_invoice_preview(subscription_id=sub.id)
    usage = [line for line in preview.line_items if line.price_type == "USAGE"]
    fixed = [line for line in preview.line_items if line.price_type == "FIXED"]
    assert [(u.quantity, u.adjusted_entitlement_quantity, u.amount) for u in usage] == [
        ("1500", "500", "12.5")
    ]
    assert [f.amount for f in fixed] == ["10"]
    assert (preview.subtotal, preview.total) == ("22.5", "22.5")
    # without an entitlement the whole 2000 is billed: 1000×0.01 + 1000×0.005
    _customer, bare = smoke_subscription(fp, limit=None)
    usage = [
        line
        for line in fp.invoices.get_invoice_preview(subscription_id=bare.id).line_items
        if line.price_type == "USAGE"
    ]
    assert [(u.quantity, u.amount) for u in usage] == [("2000", "15")]


def test_cancel_immediately_with_generate_invoice_then_finalize_pay_and_void(
    http: httpx.Client, fp: Flexprice
) -> None:
    _customer, sub = smoke_subscription(fp)
    cancelled = fp.subscriptions.cancel_subscription(
        id=sub.id,
        cancellation_type="immediate",
        cancel_immediately_invoice_policy="generate_invoice",
    )
    assert cancelled is not None
    invoices = fp.invoices.query_invoice(subscription_id=sub.id).items
    final = next(i for i in invoices if i.billing_reason == "SUBSCRIPTION_UPDATE")
    usage = [line for line in final.line_items if line.price_type == "USAGE"]
    assert [(u.quantity, u.amount) for u in usage] == [("1500", "12.5")]
    # cancelled on its first day: every later day of the 10.00 fee is credited back
    credit = [line for line in final.line_items if line.price_type == "FIXED"]
    assert len(credit) == 1 and D(credit[0].amount) < 0
    assert D(final.subtotal) == D("12.5") + D(credit[0].amount)
    fp.invoices.finalize_invoice(id=final.id)
    numbered = fp.invoices.get_invoice(id=final.id)
    assert NUMBER.match(numbered.invoice_number or "")
    paid = fp.invoices.update_invoice_payment_status(
        id=final.id, payment_status="SUCCEEDED", amount=numbered.amount_due
    )
    assert paid.payment_status == "SUCCEEDED"
    opening = next(i for i in invoices if i.billing_reason == "SUBSCRIPTION_CREATE")
    assert fp.invoices.void_invoice(id=opening.id).message == "invoice voided successfully"
