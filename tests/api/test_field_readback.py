"""Honoured SDK fields, each sent through the official SDK and then read back.

The field inventory (test_field_inventory.py) names these tests for the fields they cover.
Setup that is not under test goes over plain HTTP; the field itself goes through the SDK,
as a client would send it, and a later read shows its effect.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.conftest import unique


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def metered_feature(http: httpx.Client, event_name: str) -> dict[str, Any]:
    return ok(
        http.post(
            "/v1/features",
            json={
                "name": "Calls",
                "type": "metered",
                "lookup_key": unique("f"),
                "meter": {
                    "name": "calls",
                    "event_name": event_name,
                    "aggregation": {"type": "COUNT"},
                },
            },
        )
    )


def plan_with_usage_price(http: httpx.Client, meter_id: str) -> dict[str, Any]:
    plan = ok(http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p")}))
    ok(
        http.post(
            "/v1/prices",
            json={
                "entity_type": "PLAN",
                "entity_id": plan["id"],
                "type": "USAGE",
                "price_unit_type": "FIAT",
                "currency": "usd",
                "billing_model": "FLAT_FEE",
                "amount": "2",
                "billing_period": "MONTHLY",
                "billing_period_count": 1,
                "invoice_cadence": "ARREAR",
                "meter_id": meter_id,
            },
        )
    )
    ok(
        http.post(
            "/v1/prices",
            json={
                "entity_type": "PLAN",
                "entity_id": plan["id"],
                "type": "FIXED",
                "price_unit_type": "FIAT",
                "currency": "usd",
                "billing_model": "FLAT_FEE",
                "amount": "10",
                "billing_period": "MONTHLY",
                "billing_period_count": 1,
                "invoice_cadence": "ARREAR",
            },
        )
    )
    return plan


def new_customer(http: httpx.Client) -> dict[str, Any]:
    return ok(http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}))


def subscribe(http: httpx.Client, customer: dict[str, Any], plan: dict[str, Any]) -> Any:
    return ok(
        http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan["id"],
                "currency": "usd",
                "billing_period": "MONTHLY",
            },
        )
    )


# --- events and features --------------------------------------------------------------------


def test_event_source_is_stored_and_filters_the_raw_events(fp: Flexprice) -> None:
    customer = unique("c")
    name = unique("ev")
    for source, event_id in (("billing-agent", unique("e1")), ("web", unique("e2"))):
        fp.events.ingest_event(
            event_name=name,
            external_customer_id=customer,
            event_id=event_id,
            source=source,
            properties={"k": "v"},
        )
    found = fp.events.list_raw_events(event_name=name, source="billing-agent")
    assert [e.source for e in found.events] == ["billing-agent"]
    every = fp.events.list_raw_events(event_name=name)
    assert sorted(e.source for e in every.events) == ["billing-agent", "web"]


def test_feature_filters_update_its_meter(fp: Flexprice, http: httpx.Client) -> None:
    feature = metered_feature(http, unique("ev"))
    filters = [{"key": "region", "values": ["eu", "us"]}]
    fp.features.update_feature(id=feature["id"], filters=filters)
    read = ok(http.get(f"/v1/features/{feature['id']}"))
    assert read["meter"]["filters"] == filters
    assert ok(http.get(f"/v1/meters/{feature['meter_id']}"))["filters"] == filters


# --- invoices -------------------------------------------------------------------------------


def test_one_off_invoice_fields_are_stored(fp: Flexprice, http: httpx.Client) -> None:
    customer = new_customer(http)
    key = unique("idem")
    sent: dict[str, Any] = {
        "description": "setup work",
        "invoice_type": "ONE_OFF",
        "metadata": {"po": "7"},
        "idempotency_key": key,
    }
    created = fp.invoices.create_invoice(
        customer_id=customer["id"],
        currency="usd",
        amount_due="5",
        subtotal="5",
        total="5",
        description="setup work",
        invoice_type="ONE_OFF",
        metadata={"po": "7"},
        idempotency_key=key,
    )
    read = ok(http.get(f"/v1/invoices/{created.id}"))
    assert {name: read[name] for name in sent} == sent
    # The idempotency key makes a resend the same invoice, not a second one.
    again = fp.invoices.create_invoice(
        customer_id=customer["id"],
        currency="usd",
        amount_due="5",
        subtotal="5",
        total="5",
        idempotency_key=key,
    )
    assert again.id == created.id
    assert fp.invoices.query_invoice(customer_id=customer["id"]).pagination.total == 1


def test_invoice_due_date_and_pdf_url_are_updated(fp: Flexprice, http: httpx.Client) -> None:
    customer = new_customer(http)
    invoice = ok(
        http.post(
            "/v1/invoices",
            json={
                "customer_id": customer["id"],
                "currency": "usd",
                "amount_due": "3",
                "subtotal": "3",
                "total": "3",
            },
        )
    )
    due = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    url = "https://files.example.com/inv/1.pdf"
    fp.invoices.update_invoice(id=invoice["id"], due_date=due, invoice_pdf_url=url)
    read = ok(http.get(f"/v1/invoices/{invoice['id']}"))
    assert datetime.fromisoformat(read["due_date"]) == due
    assert read["invoice_pdf_url"] == url


def test_preview_hides_zero_charges_line_items(fp: Flexprice, http: httpx.Client) -> None:
    feature = metered_feature(http, unique("ev"))
    plan = plan_with_usage_price(http, feature["meter_id"])
    sub = subscribe(http, new_customer(http), plan)
    shown = fp.invoices.get_invoice_preview(subscription_id=sub["id"])
    assert sorted((line.price_type, line.amount) for line in shown.line_items) == [
        ("FIXED", "10"),
        ("USAGE", "0"),
    ]
    hidden = fp.invoices.get_invoice_preview(
        subscription_id=sub["id"], hide_zero_charges_line_items=True
    )
    assert [(line.price_type, line.amount) for line in hidden.line_items] == [("FIXED", "10")]
    assert (hidden.subtotal, hidden.total) == (shown.subtotal, shown.total) == ("10", "10")


# --- prices ---------------------------------------------------------------------------------

TIERS = [{"up_to": 10, "unit_amount": "1"}, {"unit_amount": "0.5"}]


def test_price_fields_are_stored_on_create_and_update(fp: Flexprice, http: httpx.Client) -> None:
    feature = metered_feature(http, unique("ev"))
    plan = ok(http.post("/v1/plans", json={"name": "P", "lookup_key": unique("p")}))
    created = fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan["id"],
        type_="USAGE",
        price_unit_type="FIAT",
        currency="usd",
        billing_model="TIERED",
        billing_period="MONTHLY",
        invoice_cadence="ARREAR",
        meter_id=feature["meter_id"],
        tier_mode="SLAB",
        tiers=TIERS,
        display_name="API calls",
    )
    read = ok(http.get(f"/v1/prices/{created.id}"))
    assert (read["meter_id"], read["tier_mode"], read["display_name"]) == (
        feature["meter_id"],
        "SLAB",
        "API calls",
    )
    assert [t["unit_amount"] for t in read["tiers"]] == ["1", "0.5"]
    # The meter_id is what the subscription bills by.
    sub = subscribe(http, new_customer(http), plan)
    assert [i["meter_id"] for i in sub["line_items"]] == [feature["meter_id"]]

    renamed = fp.prices.update_price(id=created.id, display_name="Calls")
    assert renamed.id == created.id
    assert ok(http.get(f"/v1/prices/{created.id}"))["display_name"] == "Calls"

    repriced = fp.prices.update_price(
        id=created.id,
        tier_mode="VOLUME",
        tiers=[{"up_to": 100, "unit_amount": "0.8"}, {"unit_amount": "0.4"}],
    )
    assert repriced.id != created.id
    read = ok(http.get(f"/v1/prices/{repriced.id}"))
    assert read["tier_mode"] == "VOLUME"
    assert [(t.get("up_to"), t["unit_amount"]) for t in read["tiers"]] == [
        (100, "0.8"),
        (None, "0.4"),
    ]
    assert read["parent_price_id"] == created.id and read["display_name"] == "Calls"

    packaged = fp.prices.update_price(
        id=repriced.id,
        billing_model="PACKAGE",
        amount="5",
        transform_quantity={"divide_by": 10, "round": "down"},
    )
    read = ok(http.get(f"/v1/prices/{packaged.id}"))
    assert read["transform_quantity"] == {"divide_by": 10, "round": "down"}
    assert (read["billing_model"], read["amount"], read["parent_price_id"]) == (
        "PACKAGE",
        "5",
        repriced.id,
    )
    assert "tiers" not in read and "tier_mode" not in read


# --- subscriptions and wallets --------------------------------------------------------------


def test_subscription_cancel_at_is_stored(fp: Flexprice, http: httpx.Client) -> None:
    feature = metered_feature(http, unique("ev"))
    sub = subscribe(http, new_customer(http), plan_with_usage_price(http, feature["meter_id"]))
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    fp.subscriptions.update_subscription(id=sub["id"], cancel_at=when)
    read = ok(http.get(f"/v1/subscriptions/{sub['id']}"))
    assert datetime.fromisoformat(read["cancel_at"]) == when
    assert read["subscription_status"] == "active"


def test_subscription_status_is_validated_against_the_state_machine(
    fp: Flexprice, http: httpx.Client
) -> None:
    """status is honoured as a validated field: restating it succeeds, changing it is
    refused (the operations pause, resume, cancel and activate change it)."""
    feature = metered_feature(http, unique("ev"))
    sub = subscribe(http, new_customer(http), plan_with_usage_price(http, feature["meter_id"]))
    same = fp.subscriptions.update_subscription(id=sub["id"], status="active")
    assert same.subscription_status == "active"
    with pytest.raises(errors.FlexpriceError) as refused:
        fp.subscriptions.update_subscription(id=sub["id"], status="paused")
    assert refused.value.status_code == 400 and "status" in refused.value.body
    assert ok(http.get(f"/v1/subscriptions/{sub['id']}"))["subscription_status"] == "active"


def test_wallet_initial_credits_expiry_date_utc_is_stored(
    fp: Flexprice, http: httpx.Client
) -> None:
    customer = new_customer(http)
    expiry = datetime(2031, 6, 30, 12, 0, tzinfo=UTC)
    wallet = fp.wallets.create_wallet(
        currency="usd",
        customer_id=customer["id"],
        initial_credits_to_load="10",
        initial_credits_expiry_date_utc=iso(expiry),  # the SDK types it as a string
    )
    history = ok(http.get(f"/v1/wallets/{wallet.id}/transactions"))["items"]
    assert [datetime.fromisoformat(t["expiry_date"]) for t in history] == [expiry]


def test_customer_skip_onboarding_workflow_is_accepted(fp: Flexprice, http: httpx.Client) -> None:
    """A client UI hint: Meterline runs no onboarding workflow, so the customer is created
    exactly as without it."""
    external_id = unique("c")
    created = fp.customers.create_customer(
        external_id=external_id, name="Hint", skip_onboarding_workflow=True
    )
    read = ok(http.get(f"/v1/customers/{created.id}"))
    assert (read["external_id"], read["name"]) == (external_id, "Hint")
