"""Credit notes through the official SDK: each line at most what is left of it, the whole
at most the invoice's remaining amount; finalizing takes the total off the invoice."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import unique


def test_credit_notes_limits_finalize_and_void(fp: Any, http: httpx.Client) -> None:
    plan = fp.plans.create_plan(name="Credited", lookup_key=unique("p"))
    for amount in ("100", "50"):
        fp.prices.create_price(
            entity_type="PLAN",
            entity_id=plan.id,
            type_="FIXED",
            price_unit_type="FIAT",
            currency="usd",
            billing_model="FLAT_FEE",
            amount=amount,
            billing_period="MONTHLY",
            billing_period_count=1,
            invoice_cadence="ADVANCE",
        )
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    (draft,) = http.post("/v1/invoices/search", json={"subscription_id": sub.id}).json()["items"]
    lines = {
        line["amount"]: line["id"]
        for line in http.get(f"/v1/invoices/{draft['id']}").json()["line_items"]
    }
    big, small = lines["100"], lines["50"]

    def credit(*items: tuple[str, str], **extra: Any) -> httpx.Response:
        return http.post(
            "/v1/creditnotes",
            json={
                "invoice_id": draft["id"],
                "reason": "BILLING_ERROR",
                "line_items": [{"invoice_line_item_id": i, "amount": a} for i, a in items],
                **extra,
            },
        )

    # A draft invoice cannot be credited.
    assert credit((small, "10")).status_code == 400
    fp.invoices.finalize_invoice(id=draft["id"])

    note = fp.credit_notes.create_credit_note(
        invoice_id=draft["id"],
        reason="SERVICE_ISSUE",
        line_items=[{"invoice_line_item_id": small, "amount": "30", "display_name": "Outage"}],
        memo="sorry",
        idempotency_key="cn-1",
        metadata={"ticket": "42"},
    )
    assert (note.credit_note_status, note.credit_note_type, note.total_amount) == (
        "FINALIZED",
        "ADJUSTMENT",
        "30",
    )
    assert note.credit_note_number.startswith("CN-INV-") and note.memo == "sorry"
    assert note.metadata == {"ticket": "42"} and note.reason == "SERVICE_ISSUE"
    assert [(li.amount, li.display_name) for li in note.line_items] == [("30", "Outage")]
    again = fp.credit_notes.create_credit_note(
        invoice_id=draft["id"],
        reason="SERVICE_ISSUE",
        line_items=[{"invoice_line_item_id": small, "amount": "30"}],
        idempotency_key="cn-1",
    )
    assert again.id == note.id
    invoice = http.get(f"/v1/invoices/{draft['id']}").json()
    assert (invoice["total"], invoice["amount_due"], invoice["adjustment_amount"]) == (
        "120",
        "120",
        "30",
    )
    assert (invoice["amount_remaining"], invoice["payment_status"]) == ("120", "PENDING")

    # Nothing past what is left: the 50 line has 20 left.
    over = credit((small, "20.01"))
    assert over.status_code == 400 and over.json()["details"]["field"] == "line_items[0].amount"
    assert credit((small, "0.001")).status_code == 400  # below a cent
    assert credit(("inv_line_nope", "1")).status_code == 400
    assert credit((small, "1"), refund_target="PREPAID_WALLET").status_code == 400
    assert credit((small, "1"), reason="BORED").status_code == 400

    # A draft credit note reserves its lines until voided.
    pending = fp.credit_notes.create_credit_note(
        invoice_id=draft["id"],
        reason="ORDER_CHANGE",
        line_items=[{"invoice_line_item_id": small, "amount": "20"}],
        process_credit_note=False,
    )
    assert pending.credit_note_status == "DRAFT"
    assert credit((small, "1")).status_code == 400
    voided = fp.credit_notes.void_credit_note(id=pending.id)
    assert voided.credit_note_status == "VOIDED" and voided.voided_at is not None
    assert http.post(f"/v1/creditnotes/{pending.id}/finalize").status_code == 400
    assert http.post(f"/v1/creditnotes/{note.id}/void").status_code == 400

    # The rest of both lines (100 + 20) is all that remains: the invoice is then paid.
    number = unique("CN")
    last = fp.credit_notes.create_credit_note(
        invoice_id=draft["id"],
        reason="BILLING_ERROR",
        line_items=[
            {"invoice_line_item_id": big, "amount": "100"},
            {"invoice_line_item_id": small, "amount": "20"},
        ],
        process_credit_note=False,
        credit_note_number=number,
    )
    assert last.credit_note_number == number
    refused = http.post(
        f"/v1/creditnotes/{last.id}/finalize", json={"refund_target": "PREPAID_WALLET"}
    )
    assert refused.status_code == 400 and "refund_target" in refused.text
    processed = fp.credit_notes.process_credit_note(id=last.id)
    assert (processed.credit_note_status, processed.total_amount) == ("FINALIZED", "120")
    assert fp.credit_notes.get_credit_note(id=last.id).finalized_at is not None
    paid = http.get(f"/v1/invoices/{draft['id']}").json()
    assert (paid["total"], paid["amount_remaining"], paid["adjustment_amount"]) == ("0", "0", "150")
    assert paid["payment_status"] == "SUCCEEDED"
    assert credit((big, "1")).status_code == 400
    assert http.get("/v1/creditnotes/cn_nope").status_code == 404
