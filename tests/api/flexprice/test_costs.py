"""Cost sheets through the official SDK: create, get (with its prices), update, search,
the active one, delete; prices whose entity is a cost sheet."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.api.flexprice.builders import tokens_feature
from tests.conftest import Server, new_tenant, unique


def cost_price(fp: Any, costsheet_id: str, meter_id: str, amount: str) -> Any:
    """A USAGE flat-fee price of the cost sheet: ``amount`` per unit, in usd."""
    return fp.prices.create_price(
        entity_type="COSTSHEET",
        entity_id=costsheet_id,
        type_="USAGE",
        meter_id=meter_id,
        billing_model="FLAT_FEE",
        amount=amount,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
    )


def _refused(call: Any, status: int, field: str) -> None:
    with pytest.raises(errors.FlexpriceError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.body
    assert field in refused.value.body, refused.value.body


def test_costsheet_lifecycle_prices_search_and_active(
    fp: Any, http: httpx.Client, server: Server
) -> None:
    with pytest.raises(errors.FlexpriceError) as none:
        fp.costs.get_active_costsheet()
    assert none.value.status_code == 404
    key = unique("cs")
    first = fp.costs.create_costsheet(
        name="Vendor costs", lookup_key=key, description="LLM", metadata={"team": "ops"}
    ).costsheet
    assert (first.name, first.lookup_key, first.description) == ("Vendor costs", key, "LLM")
    assert (first.metadata, first.status, first.prices) == ({"team": "ops"}, "published", [])
    feature = tokens_feature(fp)
    price = cost_price(fp, first.id, feature.meter_id, "0.002")
    assert (price.entity_type, price.entity_id) == ("COSTSHEET", first.id)
    fixed = {
        "entity_type": "COSTSHEET",
        "entity_id": first.id,
        "type": "FIXED",
        "billing_model": "FLAT_FEE",
        "amount": "5",
        "currency": "usd",
        "billing_period": "MONTHLY",
        "invoice_cadence": "ARREAR",
    }
    response = http.post("/v1/prices", json=fixed)
    assert response.status_code == 400 and "type" in response.text, response.text

    # Its prices come with the cost sheet when asked for, and with the active one.
    plain = fp.costs.get_costsheet(id=first.id).costsheet
    assert plain.prices is None
    expanded = fp.costs.get_costsheet(id=first.id, expand="prices").costsheet
    assert [p.id for p in expanded.prices] == [price.id]
    active = fp.costs.get_active_costsheet()
    assert (active.id, [p.id for p in active.prices]) == (first.id, [price.id])
    _refused(lambda: fp.costs.get_costsheet(id=first.id, expand="meters"), 400, "expand")

    # The newest published cost sheet is the active one; deleting it brings back the first.
    second = fp.costs.create_costsheet(name="Next quarter").costsheet
    assert second.lookup_key is None
    assert fp.costs.get_active_costsheet().id == second.id

    updated = fp.costs.update_costsheet(
        id=second.id, name="Q3", lookup_key=unique("q3"), description="d", metadata={"a": "b"}
    ).costsheet
    assert (updated.name, updated.description, updated.metadata) == ("Q3", "d", {"a": "b"})
    again = fp.costs.get_costsheet(id=second.id).costsheet
    assert (again.name, again.lookup_key) == ("Q3", updated.lookup_key)

    found = fp.costs.query_costsheet(lookup_key=key).items
    assert [c.id for c in found] == [first.id]
    page = fp.costs.query_costsheet(query_filter={"limit": 1, "expand": "prices"})
    assert [c.id for c in page.items] == [second.id] and page.pagination.total == 2
    assert page.items[0].prices == []

    deleted = fp.costs.delete_costsheet(id=second.id)
    assert deleted.id == second.id
    assert fp.costs.get_active_costsheet().id == first.id
    assert fp.costs.get_costsheet(id=second.id).costsheet.status == "archived"
    assert [c.id for c in fp.costs.query_costsheet(status="archived").items] == [second.id]
    _refused(lambda: fp.costs.delete_costsheet(id=second.id), 404, "costsheet")
    _refused(lambda: fp.costs.update_costsheet(id=second.id, name="x"), 400, "deleted")
    # A deleted cost sheet takes no new price; its lookup key is free again.
    _refused(lambda: cost_price(fp, second.id, feature.meter_id, "1"), 400, "entity_id")
    reused = fp.costs.create_costsheet(name="Reused", lookup_key=updated.lookup_key).costsheet
    assert reused.lookup_key == updated.lookup_key

    # Bad input: 400 naming the field; a taken lookup key is a 409.
    for body, field in (({"name": " "}, "name"), ({"description": "no name"}, "name")):
        response = http.post("/v1/costs", json=body)
        assert response.status_code == 400 and field in response.text, response.text
    taken = http.post("/v1/costs", json={"name": "x", "lookup_key": key})
    assert taken.status_code == 409, taken.text
    clash = http.put(f"/v1/costs/{reused.id}", json={"lookup_key": key})
    assert clash.status_code == 409, clash.text
    gone = http.post("/v1/costs/search", json={"status": "gone"})
    assert gone.status_code == 400 and "status" in gone.text, gone.text
    _refused(lambda: fp.costs.query_costsheet(environment_id="env_x"), 400, "environmentID")
    _refused(lambda: fp.costs.query_costsheet(tenant_id="t"), 400, "tenantID")

    # Another environment sees none of it.
    with new_tenant(server).flexprice() as stranger:
        _refused(lambda: stranger.costs.get_costsheet(id=first.id), 404, "costsheet")
        assert stranger.costs.query_costsheet().items == []
        theirs = tokens_feature(stranger)
        _refused(lambda: cost_price(stranger, first.id, theirs.meter_id, "1"), 404, "costsheet")


def _cost_world(fp: Any) -> tuple[Any, Any, Any, Any]:
    """Customers A (800 tokens) and B (400) a few minutes ago; a cost sheet pricing tokens in
    slabs (1,000 at 0.002, the rest at 0.001); A's finalized one-off invoice of 10 usd and
    B's draft of 5."""
    feature = tokens_feature(fp)
    sheet = fp.costs.create_costsheet(name="Model costs").costsheet
    price = fp.prices.create_price(
        entity_type="COSTSHEET",
        entity_id=sheet.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="TIERED",
        tier_mode="SLAB",
        tiers=[{"up_to": 1000, "unit_amount": "0.002"}, {"unit_amount": "0.001"}],
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
    )
    a = fp.customers.create_customer(external_id=unique("a"), name="A")
    b = fp.customers.create_customer(external_id=unique("b"), name="B")
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    fp.events.ingest_events_bulk(
        events=[
            {
                "event_name": feature.meter.event_name,
                "external_customer_id": customer.external_id,
                "event_id": unique("e"),
                "timestamp": at,
                "properties": {"tokens": tokens},
            }
            for customer, tokens in ((a, "500"), (a, "300"), (b, "400"))
        ]
    )
    for customer, total, finalize in ((a, "10", True), (b, "5", False)):
        invoice = fp.invoices.create_invoice(
            customer_id=customer.id,
            currency="usd",
            amount_due=total,
            subtotal=total,
            total=total,
            line_items=[{"display_name": "Setup", "amount": total, "quantity": "1"}],
        )
        if finalize:
            fp.invoices.finalize_invoice(id=invoice.id)
    return sheet, price, a, b


def test_cost_analytics_cost_revenue_margin_and_roi(fp: Any, http: httpx.Client) -> None:
    sheet, price, a, b = _cost_world(fp)
    now = datetime.now(UTC)
    window = {"start_time": now - timedelta(days=2), "end_time": now + timedelta(minutes=1)}
    found = fp.costs.get_detailed_cost_analytics(**window)
    # The slabs apply to the whole environment's 1,200 tokens: 1,000 × 0.002 + 200 × 0.001.
    figures = (found.total_cost, found.total_revenue, found.margin, found.margin_percent)
    assert (found.currency, *figures) == ("usd", "2.2", "10", "7.8", "78")
    assert (found.roi, found.roi_percent) == ("3.5455", "354.55")
    assert found.start_time == datetime.combine((now - timedelta(days=2)).date(), time(), UTC)
    [item] = found.cost_analytics
    assert (item.costsheet_id, item.price_id, item.meter_id) == (sheet.id, price.id, price.meter_id)
    assert (item.total_quantity, item.total_cost, item.price, item.customer_id) == (
        "1200",
        "2.2",
        None,
        None,
    )

    # One customer: its usage and its revenue (B's draft earns nothing yet).
    of_a = fp.costs.get_detailed_cost_analytics(**window, external_customer_id=a.external_id)
    assert (of_a.total_cost, of_a.total_revenue, of_a.roi, of_a.roi_percent) == (
        "1.6",
        "10",
        "5.25",
        "525",
    )
    assert of_a.cost_analytics[0].external_customer_id == a.external_id
    of_b = fp.costs.get_detailed_cost_analytics(**window, external_customer_id=b.external_id)
    assert (of_b.total_cost, of_b.total_revenue, of_b.margin) == ("0.8", "0", "-0.8")
    assert (of_b.margin_percent, of_b.roi, of_b.roi_percent) == (None, "-1", "-100")

    # feature_ids keeps the prices of those features' meters; expand adds price and meter;
    # limit and offset page the items, not the totals.
    other = tokens_feature(fp, name="Other")
    none = fp.costs.get_detailed_cost_analytics(**window, feature_ids=[other.id])
    assert (none.cost_analytics, none.total_cost, none.roi) == ([], "0", None)
    expanded = fp.costs.get_detailed_cost_analytics(**window, expand=["price", "meter"])
    assert (expanded.cost_analytics[0].price.id, expanded.cost_analytics[0].meter.id) == (
        price.id,
        price.meter_id,
    )
    paged = fp.costs.get_detailed_cost_analytics(**window, offset=1, limit=1)
    assert (paged.cost_analytics, paged.total_cost) == ([], "2.2")

    # Bad requests: 400 naming the field.
    start = window["start_time"].isoformat()
    for body, field in (
        ({"start_time": start, "end_time": start}, "end_time"),
        ({"start_time": "2020-01-01T00:00:00Z", "end_time": start}, "end_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"include_children": True}, "include_children"),
        ({"property_filters": {"region": ["eu"]}}, "property_filters"),
        ({"expand": ["customer"]}, "expand"),
        ({"limit": 0}, "limit"),
        ({"feature_ids": ["feat_nope"]}, "feat_nope"),
    ):
        response = http.post("/v1/costs/analytics", json=body)
        assert response.status_code in (400, 404) and field in response.text, (body, response.text)
    unknown = http.post("/v1/costs/analytics", json={"external_customer_id": "nobody"})
    assert unknown.status_code == 404, unknown.text


def test_cost_analytics_needs_a_priced_active_costsheet(fp: Any) -> None:
    _refused(lambda: fp.costs.get_detailed_cost_analytics(), 404, "Costsheet with ID active")
    fp.costs.create_costsheet(name="Empty")
    _refused(lambda: fp.costs.get_detailed_cost_analytics(), 400, "no prices")
