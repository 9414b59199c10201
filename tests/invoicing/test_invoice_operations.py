"""Invoice operations through the official SDK: editing a draft's lines, recalculating a
draft (v2) and replacing a voided invoice (v1), the invoice communication webhook and the
customer's invoice summary; exact amounts, and each refusal by name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.api.flexprice.builders import plan_price
from tests.conftest import Server, new_tenant, unique


def _refused(call: Any, text: str, status: int = 400) -> None:
    with pytest.raises(errors.FlexpriceError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.body
    assert text in refused.value.body, refused.value.body


def _modify(fp: Any, invoice_id: str, **params: Any) -> Any:
    return fp.invoices.execute_invoice_modify(
        id=invoice_id, type_="line_item", line_item_params=params
    ).invoice


def test_edit_recalculate_send_summarize_and_replace(
    fp: Any, http: httpx.Client, server: Server
) -> None:
    plan = fp.plans.create_plan(name="Ops", lookup_key=unique("p"))
    plan_price(
        fp, plan.id, type_="FIXED", billing_model="FLAT_FEE", amount="10", invoice_cadence="ADVANCE"
    )
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    [opening] = fp.invoices.query_invoice(subscription_id=sub.id).items
    assert (opening.invoice_status, opening.subtotal, opening.is_manually_edited) == (
        "DRAFT",
        "10",
        False,
    )

    # Add two lines, update one (its id changes), remove the other.
    added = _modify(
        fp,
        opening.id,
        action="add",
        items=[
            {"display_name": "Setup", "amount": "5.555", "quantity": "1", "description": "once"},
            {"display_name": "Extra", "amount": "2", "quantity": "2"},
        ],
    )
    # 5.555 is rounded once, half away from zero: 5.56.
    assert (added.subtotal, added.total, added.is_manually_edited) == ("17.56", "17.56", True)
    setup = next(line for line in added.line_items if line.display_name == "Setup")
    extra = next(line for line in added.line_items if line.display_name == "Extra")
    assert setup.metadata == {"description": "once"}
    updated = _modify(
        fp, opening.id, action="update", line_item_id=setup.id, update={"amount": "7"}
    )
    assert updated.subtotal == "19"
    new_setup = next(line for line in updated.line_items if line.display_name == "Setup")
    assert new_setup.id != setup.id and new_setup.amount == "7"
    removed = _modify(fp, opening.id, action="remove", line_item_ids=[extra.id])
    assert (removed.subtotal, len(removed.line_items)) == ("17", 2)
    assert removed.version > opening.version

    base = {"type": "line_item"}
    for params, field in (
        ({"action": "explode"}, "action"),
        ({"action": "add"}, "items"),
        (
            {"action": "add", "items": [{"display_name": "x", "amount": "-1", "quantity": "1"}]},
            "amount",
        ),
        (
            {"action": "add", "items": [{"display_name": "x", "amount": "1e30", "quantity": "1"}]},
            "amount",
        ),
        (
            {"action": "update", "line_item_id": "inv_line_nope", "update": {"amount": "1"}},
            "line_item_id",
        ),
        ({"action": "remove", "line_item_ids": ["inv_line_nope"]}, "line_item_ids"),
        ({"action": "remove"}, "line_item_ids"),
    ):
        response = http.post(
            f"/v1/invoices/{opening.id}/modify/execute", json={**base, "line_item_params": params}
        )
        assert response.status_code == 400, (params, response.text)
        assert field in response.text, (params, response.text)
    response = http.post(f"/v1/invoices/{opening.id}/modify/execute", json={"type": "other"})
    assert response.status_code == 400 and "type" in response.text

    # Recalculated without finalizing: the edits are dropped, the plan's price stands.
    again = fp.invoices.recalculate_invoice_v2(id=opening.id, finalize=False)
    assert (again.invoice_status, again.subtotal, again.is_manually_edited) == (
        "DRAFT",
        "10",
        False,
    )
    _refused(lambda: fp.invoices.trigger_invoice_comms_webhook(id=opening.id), "DRAFT")
    done = fp.invoices.recalculate_invoice_v2(id=opening.id)
    assert (done.invoice_status, done.total) == ("FINALIZED", "10")
    _refused(lambda: _modify(fp, opening.id, action="remove", line_item_ids=["x"]), "draft")
    _refused(lambda: fp.invoices.recalculate_invoice_v2(id=opening.id), "draft")
    sent = fp.invoices.trigger_invoice_comms_webhook(id=opening.id)
    assert sent.message

    # The summary: one finalized usd invoice of 10, unpaid, all of it fixed charges.
    summary = fp.invoices.get_customer_invoice_summary(id=customer.id)
    [usd] = summary.summaries
    assert (summary.customer_id, summary.default_currency) == (customer.id, "usd")
    assert (
        usd.currency,
        usd.total_invoice_count,
        usd.unpaid_invoice_count,
        usd.overdue_invoice_count,
        usd.total_unpaid_amount,
        usd.unpaid_fixed_charges,
        usd.unpaid_usage_charges,
        usd.total_revenue_amount,
    ) == ("usd", 1, 1, 0, "10", "10", "0", "0")
    fp.invoices.update_invoice_payment_status(id=opening.id, payment_status="SUCCEEDED", amount="4")
    [partly] = fp.invoices.get_customer_invoice_summary(id=customer.id).summaries
    assert (partly.total_revenue_amount, partly.total_unpaid_amount) == ("4", "6")

    # A one-off invoice is neither recalculated nor replaced.
    one_off = http.post(
        "/v1/invoices",
        json={
            "customer_id": customer.id,
            "currency": "usd",
            "amount_due": "3",
            "subtotal": "3",
            "total": "3",
        },
    ).json()
    _refused(lambda: fp.invoices.recalculate_invoice_v2(id=one_off["id"]), "opening or period-end")
    _refused(lambda: fp.invoices.recalculate_invoice(id=one_off["id"]), "voided")

    # Voided, then replaced once by an invoice computed now for the same period.
    _refused(lambda: fp.invoices.recalculate_invoice(id=opening.id), "voided")
    fp.invoices.void_invoice(id=opening.id)
    started = fp.invoices.recalculate_invoice(id=opening.id)
    replacement = fp.invoices.get_invoice(id=started.workflow_id)
    assert (replacement.invoice_status, replacement.subtotal, replacement.period_start) == (
        "DRAFT",
        "10",
        opening.period_start,
    )
    assert replacement.metadata["recalculated_from"] == opening.id
    assert fp.invoices.get_invoice(id=opening.id).recalculated_invoice_id == replacement.id
    assert fp.invoices.recalculate_invoice(id=opening.id).workflow_id == replacement.id

    # Another tenant reaches none of it.
    with new_tenant(server).flexprice() as stranger:
        _refused(
            lambda: stranger.invoices.get_customer_invoice_summary(id=customer.id), customer.id, 404
        )
        _refused(
            lambda: stranger.invoices.recalculate_invoice_v2(id=replacement.id), replacement.id, 404
        )
        _refused(
            lambda: stranger.invoices.trigger_invoice_comms_webhook(id=opening.id), opening.id, 404
        )
        _refused(
            lambda: _modify(stranger, replacement.id, action="remove", line_item_ids=["x"]),
            replacement.id,
            404,
        )
