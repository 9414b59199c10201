"""Tax on invoices through the official SDK: associations at the customer and the
environment (tenant) level, several rates, rounding per line and rate, discounts before tax.
Exact amounts, worked out in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import unique

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _plan(fp: Any) -> str:
    plan = fp.plans.create_plan(name="Taxed", lookup_key=unique("p"))
    for amount in ("19.99", "0.05", "0.07"):
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
    return str(plan.id)


def _opening(http: httpx.Client, subscription_id: str) -> dict[str, Any]:
    found = http.post("/v1/invoices/search", json={"subscription_id": subscription_id}).json()
    (invoice,) = found["items"]
    return dict(http.get(f"/v1/invoices/{invoice['id']}").json())


def test_tax_levels_rates_rounding_and_discounts_before_tax(fp: Any, http: httpx.Client) -> None:
    def rate(percent: str) -> str:
        code = unique("T")
        fp.tax_rates.create_tax_rate(code=code, name=code, percentage_value=percent)
        return code

    vat, reduced, city, euro_only = rate("20"), rate("5.5"), rate("1.25"), rate("19")
    plan_id = _plan(fp)
    taxed = fp.customers.create_customer(external_id=unique("a"), name="A")
    plain = fp.customers.create_customer(external_id=unique("b"), name="B")
    tenant = fp.tax_associations.create_tax_association(tax_rate_code=vat, entity_type="tenant")
    assert tenant.entity_type == "tenant" and tenant.tax_rate.percentage_value == "20"
    fp.tax_associations.create_tax_association(
        tax_rate_code=euro_only, entity_type="tenant", currency="eur"
    )
    own = fp.tax_associations.create_tax_association(
        tax_rate_code=reduced,
        external_customer_id=taxed.external_id,
        priority=1,
        auto_apply=True,
        tax_behavior="exclusive",
        metadata={"k": "v"},
    )
    assert (own.entity_type, own.entity_id, own.priority) == ("customer", taxed.id, 1)
    fp.tax_associations.create_tax_association(
        tax_rate_code=city, entity_type="customer", entity_id=taxed.id, priority=2
    )
    coupon = fp.coupons.create_coupon(
        name="Ten", type_="percentage", cadence="forever", percentage_off="10"
    )
    listed = fp.tax_associations.list_tax_associations(external_customer_id=taxed.external_id)
    assert sorted(a.priority for a in listed.items) == [1, 2]

    def subscribe(customer_id: str, **extra: Any) -> dict[str, Any]:
        sub = fp.subscriptions.create_subscription(
            customer_id=customer_id,
            plan_id=plan_id,
            currency="usd",
            billing_period="MONTHLY",
            **extra,
        )
        return _opening(http, sub.id)

    # The customer's own rates win over the tenant's; 10 % off 20.11 = 2.01, spread
    # 2.00 / 0.00 / 0.01, leaving 17.99, 0.05 and 0.06 to tax. 5.5 %: 0.98945 → 0.99,
    # 0.00275 → 0, 0.0033 → 0; 1.25 %: 0.224875 → 0.22, 0.000625 → 0, 0.00075 → 0.
    a = subscribe(taxed.id, coupons=[coupon.id])
    assert (a["subtotal"], a["total_discount"], a["total_tax"], a["total"]) == (
        "20.11",
        "2.01",
        "1.21",
        "19.31",
    )
    assert sorted(
        (t["tax_rate"]["code"], t["taxable_amount"], t["tax_amount"]) for t in a["taxes"]
    ) == sorted([(reduced, "18.1", "0.99"), (city, "18.1", "0.22")])
    # Without the coupon: 5.5 % of 19.99 = 1.09945 → 1.10, 1.25 % → 0.25; the small
    # lines round to 0 each, where their sum (0.12) would have added 0.01.
    a2 = subscribe(taxed.id)
    assert (a2["total_tax"], a2["total"]) == ("1.35", "21.46")
    # The tenant's rate (its eur-only rate does not apply to usd): 3.998 → 4.00,
    # 0.01 → 0.01, 0.014 → 0.01.
    b = subscribe(plain.id)
    assert (b["subtotal"], b["total_tax"], b["total"]) == ("20.11", "4.02", "24.13")
    sdk = fp.invoices.get_invoice(id=b["id"])
    assert [(t.tax_amount, t.tax_rate_id) for t in sdk.taxes] == [("4.02", tenant.tax_rate_id)]
    # An exempt customer is not taxed, whatever applies; taxable again, it is.
    exempt = fp.customers.create_customer(external_id=unique("e"), name="E", tax_treatment="exempt")
    assert exempt.tax_treatment == "exempt"
    exempt_invoice = subscribe(exempt.id)
    assert (exempt_invoice["total_tax"], exempt_invoice["taxes"]) == ("0", [])
    assert fp.customers.update_customer(id=exempt.id, tax_treatment="taxable").tax_treatment == (
        "taxable"
    )
    assert subscribe(exempt.id)["total_tax"] == "4.02"
    odd = http.put(f"/v1/customers/{exempt.id}", json={"tax_treatment": "zero_rated"})
    assert odd.status_code == 400 and "tax_treatment" in odd.text

    # Update and delete: a deleted association taxes nothing new.
    changed = fp.tax_associations.update_tax_association(
        id=tenant.id, priority=5, auto_apply=False, tax_behavior="exclusive", metadata={"x": "y"}
    )
    assert (changed.priority, changed.auto_apply, changed.metadata) == (5, False, {"x": "y"})
    assert subscribe(plain.id)["total_tax"] == "0"
    fp.tax_associations.update_tax_association(id=tenant.id, auto_apply=True)
    gone = fp.tax_associations.delete_tax_association(id=tenant.id)
    assert gone.status == "archived"
    assert fp.tax_associations.get_tax_association(id=own.id).tax_rate_id == own.tax_rate_id
    assert subscribe(plain.id)["total_tax"] == "0"
    # An association that ended before the invoice's period taxes nothing either.
    fp.tax_associations.create_tax_association(
        tax_rate_code=vat,
        entity_type="customer",
        entity_id=plain.id,
        start_date=NOW - timedelta(days=60),
        end_date=NOW - timedelta(days=30),
    )
    assert subscribe(plain.id)["total_tax"] == "0"

    for body, field in (
        (
            {
                "tax_rate_code": vat,
                "start_date": _iso(NOW),
                "end_date": _iso(NOW - timedelta(days=1)),
            },
            "end_date",
        ),
        ({"tax_rate_code": vat, "tax_behavior": "sideways"}, "tax_behavior"),
        ({"tax_rate_code": "nope"}, "tax_rate_code"),
        ({"tax_rate_code": vat, "entity_type": "planet"}, "entity_type"),
        ({"tax_rate_code": vat, "entity_type": "tenant", "currency": "xyz"}, "currency"),
    ):
        response = http.post("/v1/taxes/associations", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["details"]["field"] == field
    missing = http.post(
        "/v1/taxes/associations",
        json={"tax_rate_code": vat, "entity_type": "subscription", "entity_id": "subs_nope"},
    )
    assert missing.status_code == 404
    assert http.get("/v1/taxes/associations/taxassoc_nope").status_code == 404
