"""Inclusive tax and the customer's tax treatment through the official SDK, exact amounts:
a tax-inclusive rate is carved out of each line (the subtotal is net, the total is what the
prices said), an exclusive rate beside it taxes the net, and an exempt or reverse-charge
customer is charged no tax, the invoice (and its PDF) saying why."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import unique


def _plan(fp: Any, *amounts: str) -> str:
    plan = fp.plans.create_plan(name="Gross", lookup_key=unique("p"))
    for amount in amounts:
        fp.prices.create_price(
            entity_type="PLAN",
            entity_id=plan.id,
            type_="FIXED",
            price_unit_type="FIAT",
            currency="eur",
            billing_model="FLAT_FEE",
            amount=amount,
            billing_period="MONTHLY",
            billing_period_count=1,
            invoice_cadence="ADVANCE",
        )
    return str(plan.id)


def _opening(fp: Any, customer_id: str, plan_id: str) -> Any:
    sub = fp.subscriptions.create_subscription(
        customer_id=customer_id, plan_id=plan_id, currency="eur", billing_period="MONTHLY"
    )
    [found] = fp.invoices.query_invoice(subscription_id=sub.id).items
    return fp.invoices.get_invoice(id=found.id)


# The SDK types tax_treatment as taxable | exempt but passes other values through (an open
# enum) with a serializer warning.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_inclusive_exclusive_exempt_and_reverse_charge(fp: Any, http: httpx.Client) -> None:
    def rate(percent: str) -> str:
        code = unique("T")
        fp.tax_rates.create_tax_rate(code=code, name=code, percentage_value=percent)
        return code

    vat, levy = rate("19"), rate("2.5")
    plan_id = _plan(fp, "119.00", "10.00", "0.05")
    taxed = fp.customers.create_customer(external_id=unique("t"), name="T")
    inclusive = fp.tax_associations.create_tax_association(
        tax_rate_code=vat, entity_type="customer", entity_id=taxed.id, tax_behavior="inclusive"
    )
    assert inclusive.tax_behavior == "inclusive"

    # 19 % inclusive per line: 119.00 → 19.00, 10.00 → 1.596… → 1.60, 0.05 → 0.00798 → 0.01;
    # 20.61 carved out of 129.05: the subtotal is 108.44 net and the total 129.05.
    a = _opening(fp, taxed.id, plan_id)
    assert (a.subtotal, a.total_tax, a.total, a.amount_due) == (
        "108.44",
        "20.61",
        "129.05",
        "129.05",
    )
    assert (a.tax_summary.inclusive_tax, a.tax_summary.exclusive_tax) == ("20.61", "0")
    [applied] = a.taxes
    assert (applied.tax_behavior, applied.taxable_amount, applied.tax_amount) == (
        "inclusive",
        "108.44",
        "20.61",
    )
    assert a.tax_exemption_reason_code is None

    # An exclusive 2.5 % beside it taxes each line's net: 100.00 → 2.50, 8.40 → 0.21,
    # 0.04 → 0.001 → 0; the total grows by 2.71 only.
    fp.tax_associations.create_tax_association(
        tax_rate_code=levy, entity_type="customer", entity_id=taxed.id, priority=200
    )
    b = _opening(fp, taxed.id, plan_id)
    assert (b.subtotal, b.total_tax, b.total) == ("108.44", "23.32", "131.76")
    assert (b.tax_summary.inclusive_tax, b.tax_summary.exclusive_tax) == ("20.61", "2.71")

    # Exempt, then reverse charge: no tax, the prices charged as they are, and the reason.
    for treatment, code in (("exempt", "customer_exempt"), ("reverse_charge", "reverse_charge")):
        changed = fp.customers.update_customer(id=taxed.id, tax_treatment=treatment)
        assert changed.tax_treatment == treatment
        c = _opening(fp, taxed.id, plan_id)
        assert (c.subtotal, c.total_tax, c.total, c.taxes) == ("129.05", "0", "129.05", [])
        assert c.tax_exemption_reason_code == code
        assert c.tax_summary.exemption.reason_code == code
    pdf = http.get(f"/v1/invoices/{c.id}/pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Reverse charge" in text and "129.05" in text

    # Taxable again: taxed again (the inclusive PDF shows the carved tax on its own row).
    fp.customers.update_customer(id=taxed.id, tax_treatment="taxable")
    d = _opening(fp, taxed.id, plan_id)
    assert (d.total_tax, d.tax_exemption_reason_code) == ("23.32", None)
    pdf = http.get(f"/v1/invoices/{d.id}/pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Tax included in prices" in text and "Reverse charge" not in text

    # Bad treatments and rates: 400 naming the field.
    for body, field in (({"tax_treatment": "zero_rated"}, "tax_treatment"),):
        response = http.put(f"/v1/customers/{taxed.id}", json=body)
        assert response.status_code == 400 and field in response.text
    for percent in ("-0.01", "100.01", "1e30"):
        response = http.post(
            "/v1/taxes/rates", json={"code": unique("x"), "name": "x", "percentage_value": percent}
        )
        assert response.status_code == 400 and "percentage_value" in response.text, percent
