"""Cost sheets through the official SDK: create, get (with its prices), update, search,
the active one, delete; prices whose entity is a cost sheet."""

from __future__ import annotations

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
