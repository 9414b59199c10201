"""GET /v1/invoices/{id}/pdf: a real PDF whose text (read back with pypdf) carries the
vendor, customer, number, dates, lines, credits, totals in the currency's format."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from flexprice import Flexprice
from pypdf import PdfReader

from tests.conftest import unique


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_finalized_invoice_pdf_shows_lines_credits_and_totals(
    http: httpx.Client, fp: Flexprice
) -> None:
    external_id = unique("pdf")
    customer = fp.customers.create_customer(
        external_id=external_id, name="Acme Rockets", email="billing@acme.test"
    )
    fp.wallets.create_wallet(customer_id=customer.id, currency="usd", initial_credits_to_load="100")
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id,
        currency="usd",
        amount_due="1349.75",
        subtotal="1349.75",
        total="1349.75",
        due_date="2030-02-15T00:00:00Z",
        line_items=[
            {
                "amount": "1200",
                "quantity": "1500",
                "price_unit_amount": "0.8",
                "display_name": "API calls",
            },
            {"amount": "149.75", "quantity": "1", "display_name": "Pro plan"},
        ],
    )
    fp.invoices.finalize_invoice(id=invoice.id)
    final = fp.invoices.get_invoice(id=invoice.id)
    assert final.invoice_number is not None

    response = http.get(f"/v1/invoices/{invoice.id}/pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f'filename="{final.invoice_number}.pdf"' in response.headers["content-disposition"]
    text = pdf_text(response.content)

    assert final.invoice_number in text
    assert "Acme Rockets" in text and external_id in text and "billing@acme.test" in text
    assert "Due date: 2030-02-15" in text
    assert re.search(r"API calls\s*1,500\s*\$0\.80\s*\$1,200\.00", text), text
    assert re.search(r"Pro plan\s*1\s*\$149\.75\s*\$149\.75", text), text
    assert re.search(r"Subtotal\s*\$1,349\.75", text), text
    assert re.search(r"Credits applied\s*-\$100\.00", text), text
    assert re.search(r"Total\s*\$1,249\.75", text), text
    assert re.search(r"Amount due\s*\$1,249\.75", text), text
    assert "USD" in text


@pytest.mark.parametrize(
    ("currency", "amount", "total"),
    [
        ("jpy", "12345", r"Total\s*¥12,345(?![.\d])"),
        # The Iraqi dinar has 3 minor units in ISO 4217; CLDR (Babel's digits) says 0.
        ("iqd", "1.5", r"Total\s*IQD1\.500(?!\d)"),
    ],
)
def test_pdf_uses_the_currency_minor_units(
    http: httpx.Client, fp: Flexprice, currency: str, amount: str, total: str
) -> None:
    customer = fp.customers.create_customer(external_id=unique(currency), name="Customer")
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id,
        currency=currency,
        amount_due=amount,
        subtotal=amount,
        total=amount,
        line_items=[{"amount": amount, "quantity": "3", "display_name": "Seats"}],
    )
    response = http.get(f"/v1/invoices/{invoice.id}/pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "DRAFT" in text
    assert re.search(total, text), text
    assert currency.upper() in text


def test_pdf_of_unknown_or_foreign_invoice_is_404(
    http: httpx.Client, fp: Flexprice, tenant: object
) -> None:
    missing = http.get("/v1/invoices/inv_missing/pdf")
    assert missing.status_code == 404
    assert missing.json()["http_status_code"] == 404

    from tests.conftest import new_tenant

    customer = fp.customers.create_customer(external_id=unique("c"), name="Other")
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id, currency="usd", amount_due="1", subtotal="1", total="1"
    )
    other = new_tenant(tenant.server)  # type: ignore[attr-defined]
    with other.client() as stranger:
        assert stranger.get(f"/v1/invoices/{invoice.id}/pdf").status_code == 404
