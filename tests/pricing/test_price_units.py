"""Price units and exchange rates through the official SDK: CRUD, lookup by code, search;
prices written in a unit billed converted to the currency, rounded once per line; and the
bad input each refuses with a 400 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.api.flexprice.builders import plan_price
from tests.conftest import Server, new_tenant, unique

NOW = datetime.now(UTC).replace(microsecond=0)


def _refused(call: Any, field: str, status: int = 400) -> None:
    with pytest.raises(errors.FlexpriceError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.body
    assert field in refused.value.body, refused.value.body


def test_price_units_crud_lookup_and_search(fp: Any, http: httpx.Client, server: Server) -> None:
    code = unique("cr")[:20]
    made = fp.price_units.create_price_unit(
        code=code, name="Credits", symbol="CR", base_currency="USD", conversion_rate="0.01"
    )
    assert (made.code, made.base_currency, made.conversion_rate, made.status) == (
        code,
        "usd",
        "0.01",
        "published",
    )
    other = fp.price_units.create_price_unit(
        code=unique("tk")[:20], name="Tokens", symbol="T", base_currency="eur", conversion_rate="2"
    )
    assert fp.price_units.get_price_unit(id=made.id).name == "Credits"
    assert fp.price_units.get_price_unit_by_code(code=code).id == made.id
    listed = fp.price_units.list_price_units(limit=1, order="asc")
    assert [u.id for u in listed.items] == [made.id] and listed.pagination.total == 2
    found = fp.price_units.query_price_unit(price_unit_ids=[other.id])
    assert [u.id for u in found.items] == [other.id]
    renamed = fp.price_units.update_price_unit(id=made.id, name="Cr", metadata={"k": "v"})
    assert (renamed.name, renamed.metadata, renamed.code) == ("Cr", {"k": "v"}, code)
    # The code is taken while the unit lives: 409.
    _refused(
        lambda: fp.price_units.create_price_unit(
            code=code, name="x", symbol="x", base_currency="usd", conversion_rate="1"
        ),
        "code",
        409,
    )
    # Another tenant sees none of it.
    with new_tenant(server).flexprice() as stranger:
        _refused(lambda: stranger.price_units.get_price_unit(id=made.id), made.id, 404)
        _refused(lambda: stranger.price_units.get_price_unit_by_code(code=code), code, 404)
        assert stranger.price_units.list_price_units().items == []
    for rate in ("0", "-1", "1e30", "0.0000000000001", "NaN"):
        response = http.post(
            "/v1/prices/units",
            json={
                "code": unique("b")[:20],
                "name": "b",
                "symbol": "b",
                "base_currency": "usd",
                "conversion_rate": rate,
            },
        )
        assert response.status_code == 400 and "conversion_rate" in response.text, rate
    bad = {"code": "x", "name": "x", "symbol": "x", "conversion_rate": "1"}
    response = http.post("/v1/prices/units", json={**bad, "base_currency": "xau"})
    assert response.status_code == 400 and "base_currency" in response.text
    response = http.post("/v1/prices/units", json={**bad, "code": "c" * 21, "base_currency": "usd"})
    assert response.status_code == 400 and "code" in response.text
    deleted = fp.price_units.delete_price_unit(id=other.id)
    assert deleted.message
    assert fp.price_units.get_price_unit(id=other.id).status == "archived"
    _refused(lambda: fp.price_units.get_price_unit_by_code(code=other.code), other.code, 404)
    assert [u.id for u in fp.price_units.query_price_unit(status="archived").items] == [other.id]


def test_prices_in_a_price_unit_are_billed_converted_and_rounded_once_per_line(
    fp: Any, http: httpx.Client
) -> None:
    code = unique("cr")[:20]
    fp.price_units.create_price_unit(
        code=code, name="Credits", symbol="CR", base_currency="usd", conversion_rate="0.01"
    )
    plan = fp.plans.create_plan(name="In credits", lookup_key=unique("p"))
    fixed = {"type_": "FIXED", "billing_model": "FLAT_FEE", "invoice_cadence": "ADVANCE"}
    # 1234.5 credits = 12.345 usd; 0.5 credits = 0.005 usd.
    big = plan_price(
        fp,
        plan.id,
        **fixed,
        price_unit_type="CUSTOM",
        price_unit_config={"price_unit": code, "amount": "1234.5"},
    )
    assert (big.amount, big.price_unit, big.price_unit_amount, big.conversion_rate) == (
        "12.345",
        code,
        "1234.5",
        "0.01",
    )
    assert big.price_unit_type == "CUSTOM" and big.price_unit_id
    plan_price(
        fp,
        plan.id,
        **fixed,
        price_unit_type="CUSTOM",
        price_unit_config={"price_unit": code, "amount": "0.5"},
    )
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    [invoice] = fp.invoices.query_invoice(subscription_id=sub.id).items
    # Each line rounded once: 12.345 → 12.35 and 0.005 → 0.01 (the sum 12.35 would be
    # 12.35 once rounded: per line it is 12.36).
    assert sorted(line.amount for line in invoice.line_items) == ["0.01", "12.35"]
    assert {line.price_unit for line in invoice.line_items} == {code}
    assert invoice.subtotal == "12.36"

    base = {
        "entity_type": "PLAN",
        "entity_id": plan.id,
        "type": "FIXED",
        "billing_model": "FLAT_FEE",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ADVANCE",
        "currency": "usd",
        "price_unit_type": "CUSTOM",
    }
    for body, field in (
        ({"price_unit_config": {"price_unit": "nope", "amount": "1"}}, "price_unit"),
        ({"currency": "eur", "price_unit_config": {"price_unit": code, "amount": "1"}}, "currency"),
        ({}, "price_unit_config"),
        (
            {"price_unit_type": "FIAT", "price_unit_config": {"price_unit": code, "amount": "1"}},
            "price_unit_type",
        ),
        ({"amount": "1", "price_unit_config": {"price_unit": code, "amount": "1"}}, "amount"),
        ({"price_unit_config": {"price_unit": code, "amount": "-1"}}, "price_unit_config.amount"),
        # 0.123456789012 credits × 0.01 = 0.00123456789012 needs 14 places.
        (
            {"price_unit_config": {"price_unit": code, "amount": "0.123456789012"}},
            "price_unit_config.amount",
        ),
    ):
        response = http.post("/v1/prices", json={**base, **body})
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["details"]["field"], (body, response.text)
    # Its amounts are in the unit: a pricing change is refused by name.
    response = http.put(f"/v1/prices/{big.id}", json={"amount": "5"})
    assert response.status_code == 400 and "amount" in response.text


def test_tiered_prices_in_a_price_unit_convert_every_tier(fp: Any) -> None:
    code = unique("tk")[:20]
    fp.price_units.create_price_unit(
        code=code, name="Tokens", symbol="T", base_currency="jpy", conversion_rate="1.5"
    )
    plan = fp.plans.create_plan(name="Tiered tokens", lookup_key=unique("p"))
    price = plan_price(
        fp,
        plan.id,
        type_="FIXED",
        billing_model="TIERED",
        tier_mode="VOLUME",
        invoice_cadence="ADVANCE",
        currency="jpy",
        price_unit_type="CUSTOM",
        price_unit_config={
            "price_unit": code,
            "price_unit_tiers": [
                {"up_to": 10, "unit_amount": "3", "flat_amount": "1"},
                {"up_to": None, "unit_amount": "2"},
            ],
        },
    )
    assert [(t.unit_amount, t.flat_amount) for t in price.tiers] == [("4.5", "1.5"), ("3", None)]
    assert [t.unit_amount for t in price.price_unit_tiers] == ["3", "2"]


def test_fx_rates_crud_query_and_bounds(fp: Any, http: httpx.Client, server: Server) -> None:
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    tenant_rate = fp.fx_rates.create_fx_rate(
        from_currency="USD", to_currency="eur", scope="tenant", rate="0.92", source="market"
    )
    assert (tenant_rate.from_currency, tenant_rate.rate, tenant_rate.scope) == (
        "usd",
        "0.92",
        "tenant",
    )
    own = fp.fx_rates.create_fx_rate(
        from_currency="usd",
        to_currency="jpy",
        scope="customer",
        scope_id=customer.id,
        rate="151.123456789012",
        start_date=NOW,
        end_date=NOW + timedelta(days=30),
    )
    assert (own.scope_id, own.source, own.rate) == (customer.id, "fixed", "151.123456789012")
    assert fp.fx_rates.get_fx_rate(id=own.id).to_currency == "jpy"
    by_pair = fp.fx_rates.query_fx_rates(from_currency="usd", to_currency="eur")
    assert [r.id for r in by_pair.items] == [tenant_rate.id]
    scoped = fp.fx_rates.query_fx_rates(scope="customer", scope_id=customer.id)
    assert [r.id for r in scoped.items] == [own.id]
    assert [r.id for r in fp.fx_rates.query_fx_rates(fx_rate_ids=[own.id]).items] == [own.id]
    later = NOW + timedelta(days=1)
    changed = fp.fx_rates.update_fx_rate(
        id=own.id, rate="150", metadata={"why": "close"}, start_date=later
    )
    assert (changed.rate, changed.metadata, changed.start_date) == ("150", {"why": "close"}, later)
    moved = fp.fx_rates.update_fx_rate(id=own.id, end_date=later + timedelta(days=2))
    assert moved.end_date == later + timedelta(days=2) and moved.rate == "150"
    with new_tenant(server).flexprice() as stranger:
        _refused(lambda: stranger.fx_rates.get_fx_rate(id=own.id), own.id, 404)
        assert stranger.fx_rates.query_fx_rates().items == []
    base = {"from_currency": "usd", "to_currency": "eur", "scope": "tenant", "rate": "1"}
    for body, field in (
        ({"rate": "0"}, "rate"),
        ({"rate": "-2"}, "rate"),
        ({"rate": "1e27"}, "rate"),
        ({"rate": None}, "rate"),
        ({"to_currency": "usd"}, "to_currency"),
        ({"from_currency": "zzz"}, "from_currency"),
        ({"scope": "planet"}, "scope"),
        ({"scope_id": customer.id}, "scope_id"),
        ({"scope": "customer"}, "scope_id"),
        ({"source": "guess"}, "source"),
        (
            {"start_date": NOW.isoformat(), "end_date": (NOW - timedelta(days=1)).isoformat()},
            "end_date",
        ),
    ):
        response = http.post("/v1/forex", json={**base, **body})
        assert response.status_code == 400, (body, response.text)
        assert field in response.text, (body, response.text)
    missing = http.post("/v1/forex", json={**base, "scope": "customer", "scope_id": "cust_nope"})
    assert missing.status_code == 404
    response = http.put(
        f"/v1/forex/{own.id}", json={"end_date": (NOW - timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 400 and "end_date" in response.text
    fp.fx_rates.delete_fx_rate(id=tenant_rate.id)
    assert fp.fx_rates.get_fx_rate(id=tenant_rate.id).status == "archived"
    assert [r.id for r in fp.fx_rates.query_fx_rates().items] == [own.id]
