"""Coupons through the official SDK: the catalog, redemption on subscription create, and
the discounts on the subscription's invoices over several periods (exact amounts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from meterline.db import models as _all_tables  # noqa: F401 - every table, for the clock
from meterline.db.engine import Database
from meterline.invoicing import clock
from meterline.settings import Settings
from tests.conftest import Tenant, unique

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _plan(fp: Any) -> tuple[str, str, str]:
    plan = fp.plans.create_plan(name="Coupons", lookup_key=unique("p"))
    common: dict[str, Any] = {
        "entity_type": "PLAN",
        "entity_id": plan.id,
        "type_": "FIXED",
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_model": "FLAT_FEE",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ADVANCE",
    }
    seat = fp.prices.create_price(**common, amount="100", display_name="Seat")
    support = fp.prices.create_price(**common, amount="50", display_name="Support")
    return plan.id, seat.id, support.id


def _invoices(http: httpx.Client, subscription_id: str) -> list[dict[str, Any]]:
    found = http.post("/v1/invoices/search", json={"subscription_id": subscription_id}).json()
    full = [http.get(f"/v1/invoices/{i['id']}").json() for i in found["items"]]
    return sorted(full, key=lambda i: (i["period_start"], i["created_at"]))


def test_coupon_catalog_and_discounts_over_three_invoices(
    fp: Any, http: httpx.Client, tenant: Tenant
) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("an in-process clock cannot share the server's in-process chdb store")
    code = unique("WELCOME")
    ten = fp.coupons.create_coupon(
        name="Ten percent, two invoices",
        type_="percentage",
        cadence="repeated",
        percentage_off="10",
        duration_in_periods=2,
        max_redemptions=5,
        metadata={"campaign": "spring"},
    )
    five = fp.coupons.create_coupon(
        name="Five off support, once",
        type_="fixed",
        cadence="once",
        amount_off="5",
        currency="usd",
        coupon_code=code,
    )
    assert ten.id.startswith("coupon_") and ten.percentage_off == "10"
    assert ten.total_redemptions == 0 and ten.status == "published" and ten.type == "percentage"
    assert fp.coupons.get_coupon_by_code(code=code).id == five.id
    assert fp.coupons.get_coupon(id=five.id).amount_off == "5"
    renamed = fp.coupons.update_coupon(id=ten.id, name="Ten percent")
    assert renamed.name == "Ten percent" and renamed.metadata == {"campaign": "spring"}
    found = fp.coupons.query_coupon(coupon_ids=[ten.id, five.id])
    assert sorted(c.id for c in found.items) == sorted([ten.id, five.id])
    assert [c.id for c in fp.coupons.query_coupon(coupon_codes=[code]).items] == [five.id]

    plan_id, seat, support = _plan(fp)
    customer = fp.customers.create_customer(external_id=unique("c"), name="C")
    start = NOW - timedelta(days=62)
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id,
        plan_id=plan_id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=start,
        coupons=[ten.id],
        subscription_coupons=[{"coupon_code": code, "price_id": support}],
    )
    assert fp.coupons.get_coupon(id=ten.id).total_redemptions == 1
    links = fp.coupon_associations.list_coupon_associations(
        subscription_ids=[sub.id], expand="coupon"
    )
    assert sorted(a.coupon_id for a in links.items) == sorted([ten.id, five.id])
    line_link = next(a for a in links.items if a.coupon_id == five.id)
    assert line_link.subscription_line_item_id and line_link.coupon.coupon_code == code
    assert fp.coupon_associations.get_coupon_association(id=line_link.id).coupon_id == five.id

    db = Database.connect(Settings(database_url=tenant.server.database_url))
    try:
        clock.run_once(db, now=NOW)
    finally:
        db.dispose()
    invoices = _invoices(http, sub.id)
    assert [i["billing_reason"] for i in invoices] == [
        "SUBSCRIPTION_CREATE",
        "SUBSCRIPTION_CYCLE",
        "SUBSCRIPTION_CYCLE",
    ]
    # Opening: support 50 − 5 = 45 (line coupon first), then 10 % of 145 = 14.50.
    # Second: the once coupon is spent; 10 % of 150 = 15. Third: both are spent.
    assert [(i["subtotal"], i["total_discount"], i["total"]) for i in invoices] == [
        ("150", "19.5", "130.5"),
        ("150", "15", "135"),
        ("150", "0", "150"),
    ]
    opening = {line["price_id"]: line for line in invoices[0]["line_items"]}
    assert (opening[support]["line_item_discount"], opening[support]["invoice_level_discount"]) == (
        "5",
        "4.5",
    )
    assert (opening[seat]["line_item_discount"], opening[seat]["invoice_level_discount"]) == (
        "0",
        "10",
    )
    applied = fp.invoices.get_invoice(id=invoices[0]["id"]).coupon_applications
    assert sorted((a.coupon_id, a.discounted_amount, a.final_price) for a in applied) == sorted(
        [(five.id, "5", "45"), (ten.id, "14.5", "130.5")]
    )
    fp.invoices.finalize_invoice(id=invoices[0]["id"])
    finalized = fp.invoices.get_invoice(id=invoices[0]["id"])
    assert finalized.invoice_status == "FINALIZED"
    assert (finalized.total_discount, finalized.amount_due) == ("19.5", "130.5")

    deleted = fp.coupons.delete_coupon(id=five.id)
    assert deleted["message"] == "coupon deleted successfully"
    assert http.get(f"/v1/coupons/code/{code}").status_code == 404


def test_redemption_limits_windows_and_refusals_change_nothing(fp: Any, http: httpx.Client) -> None:
    def refused(body: dict[str, Any], field: str) -> None:
        response = http.post("/v1/coupons", json={"name": "C", **body})
        assert response.status_code == 400, response.text
        assert field in str(response.json()["details"]), response.text

    refused({"type": "percentage", "cadence": "once", "percentage_off": "100.5"}, "percentage_off")
    refused({"type": "percentage", "cadence": "once", "percentage_off": "0"}, "percentage_off")
    refused({"type": "fixed", "cadence": "once", "amount_off": "5"}, "currency")
    refused(
        {"type": "fixed", "cadence": "once", "amount_off": "-1", "currency": "usd"}, "amount_off"
    )
    refused({"type": "fixed", "cadence": "once", "amount_off": "1", "currency": "xyz"}, "currency")
    refused({"type": "percentage", "cadence": "repeated", "percentage_off": "5"}, "duration")
    refused({"type": "percentage", "cadence": "weekly", "percentage_off": "5"}, "cadence")
    refused(
        {"type": "percentage", "cadence": "once", "percentage_off": "5", "rules": {"a": 1}}, "rules"
    )
    refused(
        {"type": "fixed", "cadence": "once", "amount_off": "1e30", "currency": "usd"}, "amount_off"
    )
    code = unique("ONE")
    once = http.post(
        "/v1/coupons",
        json={
            "name": "Single use",
            "type": "fixed",
            "cadence": "forever",
            "amount_off": "1",
            "currency": "usd",
            "coupon_code": code,
            "max_redemptions": 1,
        },
    ).json()
    dup = http.post(
        "/v1/coupons",
        json={
            "name": "D",
            "type": "fixed",
            "cadence": "once",
            "amount_off": "1",
            "currency": "usd",
            "coupon_code": code,
        },
    )
    assert dup.status_code == 409
    expired = http.post(
        "/v1/coupons",
        json={
            "name": "Old",
            "type": "percentage",
            "cadence": "once",
            "percentage_off": "5",
            "redeem_before": _iso(NOW - timedelta(days=1)),
        },
    ).json()
    early = http.post(
        "/v1/coupons",
        json={
            "name": "Not yet",
            "type": "percentage",
            "cadence": "forever",
            "percentage_off": "5",
            "redeem_after": _iso(NOW + timedelta(days=1)),
        },
    ).json()
    euro = http.post(
        "/v1/coupons",
        json={
            "name": "Euro",
            "type": "fixed",
            "cadence": "once",
            "amount_off": "5",
            "currency": "eur",
        },
    ).json()
    plan_id, _seat, _support = _plan(fp)

    def subscribe(**coupons: Any) -> httpx.Response:
        customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"})
        return http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer.json()["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                **coupons,
            },
        )

    assert subscribe(coupons=[once["id"]]).status_code == 201
    full = subscribe(coupons=[once["id"]])
    assert full.status_code == 409 and "max_redemptions" in full.text
    for body, field in (
        ({"coupons": [expired["id"]]}, "coupons"),
        ({"coupons": [early["id"]]}, "coupons"),
        ({"coupons": [euro["id"]]}, "coupons"),
        ({"coupons": ["coupon_nope"]}, "coupons"),
        ({"coupons": [early["id"], "x" * 65]}, "coupons"),
        ({"coupons": [euro["id"]], "line_item_coupons": {}}, "coupons"),
        (
            {"subscription_coupons": [{"coupon_code": code, "price_id": "price_x"}]},
            "subscription_coupons[0]",
        ),
        ({"line_item_coupons": {"price_x": [euro["id"]]}}, "line_item_coupons"),
    ):
        response = subscribe(**body)
        assert response.status_code == 400, response.text
        assert field in str(response.json()["details"]), response.text
    # Nothing of the refused requests stayed: no subscription, no redemption.
    assert http.get(f"/v1/coupons/{once['id']}").json()["total_redemptions"] == 1
    assert http.get(f"/v1/coupons/{euro['id']}").json()["total_redemptions"] == 0
    listed = http.post("/v1/subscriptions/search", json={"plan_id": plan_id}).json()
    assert listed["pagination"]["total"] == 1
    assert http.get("/v1/coupons/coupon_nope").status_code == 404
    assert http.get("/v1/coupons/associations/coupon_assoc_nope").status_code == 404
    assert http.put(f"/v1/coupons/{once['id']}", json={"name": ""}).status_code == 400

    # A line coupon by price (the deprecated map): 25 % of the support line only.
    quarter = http.post(
        "/v1/coupons",
        json={"name": "Q", "type": "percentage", "cadence": "forever", "percentage_off": "25"},
    ).json()
    twice = subscribe(coupons=[quarter["id"], quarter["id"]])
    assert twice.status_code == 400 and "already redeemed" in twice.text
    made = subscribe(line_item_coupons={_support: [quarter["id"]]})
    assert made.status_code == 201, made.text
    opening = http.post("/v1/invoices/search", json={"subscription_id": made.json()["id"]})
    (invoice,) = opening.json()["items"]
    assert (invoice["subtotal"], invoice["total_discount"], invoice["total"]) == (
        "150",
        "12.5",
        "137.5",
    )
    (link,) = fp.coupon_associations.list_coupon_associations(
        subscription_ids=[made.json()["id"]], active_only=True
    ).items
    assert link.coupon_id == quarter["id"] and link.subscription_line_item_id
