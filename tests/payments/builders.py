"""An invoice to pay: one line, finalized, for a new customer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import unique


def customer(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"external_id": unique("payer"), "name": "Payer", "email": "payer@example.com"}
    response = http.post("/v1/customers", json={**body, **extra})
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


def finalized_invoice(
    http: httpx.Client, customer_id: str, amount: str, currency: str = "usd"
) -> dict[str, Any]:
    created = http.post(
        "/v1/invoices",
        json={
            "customer_id": customer_id,
            "currency": currency,
            "amount_due": amount,
            "subtotal": amount,
            "total": amount,
            "line_items": [{"display_name": "Service", "amount": amount, "quantity": "1"}],
        },
    )
    assert created.status_code == 201, created.text
    done = http.post(f"/v1/invoices/{created.json()['id']}/finalize")
    assert done.status_code == 200, done.text
    return invoice(http, created.json()["id"])


def invoice(http: httpx.Client, invoice_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def amounts(http: httpx.Client, invoice_id: str) -> tuple[str, str, str, str]:
    """(payment_status, amount_paid, amount_remaining, refunded_amount)."""
    found = invoice(http, invoice_id)
    return (
        found["payment_status"],
        found["amount_paid"],
        found["amount_remaining"],
        found.get("refunded_amount", "0"),
    )
