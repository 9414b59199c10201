"""Groups of prices and features through the official SDK: create, get (with members),
search, delete; prices and features joining a group; a price's group on the invoice lines it
bills."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice.models import errors

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Server, new_tenant, unique


def test_groups_members_search_delete_and_invoice_lines(
    fp: Any, http: httpx.Client, server: Server
) -> None:
    prices = fp.groups.create_group(name="Seats", lookup_key=unique("seats"), entity_type="price")
    features = fp.groups.create_group(
        name="Usage", lookup_key=unique("usage"), entity_type="feature"
    )
    assert (prices.entity_type, prices.entity_ids, prices.status) == ("price", [], "published")
    plan = fp.plans.create_plan(name="Grouped", lookup_key=unique("p"))
    fixed = {"type_": "FIXED", "billing_model": "FLAT_FEE", "invoice_cadence": "ADVANCE"}
    seat = plan_price(fp, plan.id, **fixed, amount="10", group_id=prices.id)
    loose = plan_price(fp, plan.id, **fixed, amount="1")
    assert (seat.group_id, loose.group_id) == (prices.id, None)
    feature = tokens_feature(fp)
    joined = fp.features.update_feature(id=feature.id, group_id=features.id)
    assert joined.group_id == features.id
    flag = fp.features.create_feature(
        name="Beta", type_="boolean", lookup_key=unique("beta"), group_id=features.id
    )
    assert flag.group_id == features.id
    assert fp.groups.get_group(id=prices.id).entity_ids == [seat.id]
    assert fp.groups.get_group(id=features.id).entity_ids == [feature.id, flag.id]

    # The group travels to the invoice line its price bills.
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    [invoice] = fp.invoices.query_invoice(subscription_id=sub.id).items
    by_price = {line.price_id: (line.metadata or {}).get("group_id") for line in invoice.line_items}
    assert by_price == {seat.id: prices.id, loose.id: None}

    found = fp.groups.query_group(entity_type="feature")
    assert [g.id for g in found.items] == [features.id]
    assert [g.id for g in fp.groups.query_group(lookup_key=prices.lookup_key).items] == [prices.id]
    assert [g.id for g in fp.groups.query_group(name="eat").items] == [prices.id]
    assert [g.id for g in fp.groups.query_group(group_ids=[features.id]).items] == [features.id]

    # Bad input: 400 naming the field; a taken lookup key 409.
    for body, field in (
        ({"name": "x", "lookup_key": unique("k"), "entity_type": "plan"}, "entity_type"),
        ({"name": " ", "lookup_key": unique("k"), "entity_type": "price"}, "name"),
    ):
        response = http.post("/v1/groups", json=body)
        assert response.status_code == 400 and field in response.text, response.text
    taken = http.post(
        "/v1/groups", json={"name": "x", "lookup_key": prices.lookup_key, "entity_type": "price"}
    )
    assert taken.status_code == 409
    # A price joins only a live price group, a feature only a feature group.
    with pytest.raises(errors.FlexpriceError) as wrong:
        plan_price(fp, plan.id, **fixed, amount="1", group_id=features.id)
    assert wrong.value.status_code == 400 and "group_id" in wrong.value.body
    response = http.put(f"/v1/features/{feature.id}", json={"group_id": prices.id})
    assert response.status_code == 400 and "group_id" in response.text
    response = http.put(f"/v1/features/{feature.id}", json={"group_id": "group_nope"})
    assert response.status_code == 400 and "group_id" in response.text
    with new_tenant(server).flexprice() as stranger:
        with pytest.raises(errors.FlexpriceError) as hidden:
            stranger.groups.get_group(id=prices.id)
        assert hidden.value.status_code == 404
        assert stranger.groups.query_group().items == []

    # Deleting a group frees its members and its lookup key.
    fp.groups.delete_group(id=prices.id)
    assert fp.groups.get_group(id=prices.id).status == "archived"
    assert fp.prices.get_price(id=seat.id).group_id is None
    again = fp.groups.create_group(name="Seats", lookup_key=prices.lookup_key, entity_type="price")
    assert again.id != prices.id
    assert [g.id for g in fp.groups.query_group(status="archived").items] == [prices.id]
    assert fp.features.update_feature(id=feature.id, group_id="").group_id is None
