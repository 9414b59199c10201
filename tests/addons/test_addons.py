"""Add-ons through the official SDK: the catalog, add/remove on subscriptions with exact
amounts, entitlements while active, and the refusals.

The billing goldens use a WEEKLY subscription that started six days ago at midnight (UTC),
so its current period is the seven days ``[d-6, d+1)`` (``d`` = today) whatever the month,
and every add-on date is a whole day in it: the amounts are exact literals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import unique

D = Decimal
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day(offset: int) -> datetime:
    return TODAY + timedelta(days=offset)


def _price(fp: Any, entity_type: str, entity_id: str, amount: str, cadence: str, **kw: Any) -> Any:
    body: dict[str, Any] = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "price_unit_type": "FIAT",
        "currency": kw.pop("currency", "usd"),
        "billing_period": kw.pop("billing_period", "WEEKLY"),
        "billing_period_count": 1,
        "type_": "FIXED",
        "invoice_cadence": cadence,
        "billing_model": "FLAT_FEE",
        "amount": amount,
        **kw,
    }
    return fp.prices.create_price(**body)


def _weekly_subscription(fp: Any) -> Any:
    plan = fp.plans.create_plan(name=unique("Plan"), lookup_key=unique("plan"))
    _price(fp, "PLAN", plan.id, "7", "ADVANCE")
    buyer = fp.customers.create_customer(external_id=unique("c"), name="C")
    return fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="WEEKLY",
        start_date=day(-6),
    )


def _addon(fp: Any, name: str) -> Any:
    return fp.addons.create_addon(name=name, lookup_key=unique(name.lower()))


def _updates(fp: Any, subscription_id: str) -> list[Any]:
    found = fp.invoices.query_invoice(subscription_id=subscription_id).items or []
    return sorted(
        (i for i in found if i.billing_reason == "SUBSCRIPTION_UPDATE"),
        key=lambda i: (i.created_at, i.id),
    )


def _arrear_lines(fp: Any, subscription_id: str, entity_id: str) -> list[str]:
    preview = fp.invoices.get_invoice_preview(subscription_id=subscription_id)
    return sorted(
        line.amount
        for line in preview.line_items
        if line.entity_id == entity_id and line.period_end <= day(1)
    )


def test_the_addon_catalog_through_the_sdk(fp: Any, http: httpx.Client) -> None:
    key = unique("storage")
    created = fp.addons.create_addon(
        name="Storage", lookup_key=key, description="More room", metadata={"tier": "1"}
    )
    assert created.id.startswith("addon_") and created.status == "published"
    price = _price(fp, "ADDON", created.id, "5", "ADVANCE", billing_period="MONTHLY")
    assert price.entity_type == "ADDON" and price.entity_id == created.id
    feature = fp.features.create_feature(name=unique("SSO"), type_="boolean")
    grant = fp.entitlements.create_entitlement(
        feature_id=feature.id, feature_type="boolean", entity_type="ADDON", entity_id=created.id
    )
    got = fp.addons.get_addon(id=created.id)
    assert [p.id for p in got.prices] == [price.id]
    assert [e.id for e in got.entitlements] == [grant.id]
    assert fp.addons.get_addon_by_lookup_key(lookup_key=key).id == created.id
    listed = fp.entitlements.get_addon_entitlements(id=created.id)
    assert [e.id for e in listed.items] == [grant.id]
    other = _addon(fp, "Support")
    found = fp.addons.query_addon(addon_ids=[created.id])
    assert [a.id for a in found.items] == [created.id]
    found = fp.addons.query_addon(lookup_keys=[other.lookup_key])
    assert [a.id for a in found.items] == [other.id]
    updated = fp.addons.update_addon(id=created.id, name="Storage+", metadata={"tier": "2"})
    assert updated.name == "Storage+" and updated.description == "More room"
    assert updated.metadata == {"tier": "2"}
    described = fp.addons.update_addon(id=created.id, description="Even more room")
    assert described.description == "Even more room" and described.name == "Storage+"

    again = http.post("/v1/addons", json={"name": "X", "lookup_key": key})
    assert again.status_code == 409, again.text
    for body, field in [({"name": "", "lookup_key": "k"}, "name"), ({"name": "X"}, "lookup_key")]:
        bad = http.post("/v1/addons", json=body)
        assert bad.status_code == 400 and field in bad.text, bad.text
    assert http.get("/v1/addons/addon_missing").status_code == 404
    bad_price = http.post(
        "/v1/prices",
        json={
            "entity_type": "ADDON",
            "entity_id": "addon_missing",
            "price_unit_type": "FIAT",
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
            "type": "FIXED",
            "invoice_cadence": "ADVANCE",
            "billing_model": "FLAT_FEE",
            "amount": "1",
        },
    )
    assert bad_price.status_code == 404, bad_price.text
    fp.addons.delete_addon(id=other.id)
    assert fp.addons.query_addon(addon_ids=[other.id]).items == []
    assert http.get(f"/v1/addons/lookup/{other.lookup_key}").status_code == 404
    assert fp.addons.get_addon(id=other.id).status == "archived"


def test_addons_added_and_removed_mid_period_are_billed_to_the_day(
    fp: Any, http: httpx.Client
) -> None:
    sub = _weekly_subscription(fp)
    reports = _addon(fp, "Reports")  # 70 a week, in arrears
    _price(fp, "ADDON", reports.id, "70", "ARREAR")
    seats = _addon(fp, "Seats")  # 14 a week per seat, in advance
    seat = _price(fp, "ADDON", seats.id, "14", "ADVANCE")

    # Reports from day -4: on 5 of the period's 7 days, billed at the period end.
    added = fp.subscriptions.add_subscription_addon(
        subscription_id=sub.id,
        addon_id=reports.id,
        start_date=day(-4),
        cadence="recurring",
        metadata={"source": "upsell"},
    )
    assert added.addon_status == "active" and added.entity_id == sub.id
    assert added.metadata == {"source": "upsell"}
    assert _arrear_lines(fp, sub.id, reports.id) == ["50"]
    # Three seats from day -3: 4/7 of 42 charged now, on a change invoice.
    fp.subscriptions.add_subscription_addon(
        subscription_id=sub.id,
        addon_id=seats.id,
        start_date=day(-3),
        override_line_items=[{"price_id": seat.id, "quantity": "3"}],
    )
    [charge] = _updates(fp, sub.id)
    assert charge.subtotal == "24"
    line_items = fp.subscriptions.get_subscription(id=sub.id).line_items
    addon_items = [i for i in line_items if i.entity_type == "addon"]
    assert sorted((i.entity_id, i.quantity) for i in addon_items) == sorted(
        [(reports.id, "1"), (seats.id, "3")]
    )
    associations = fp.subscriptions.get_subscription_addon_associations(id=sub.id).items
    assert {a.addon_id for a in associations} == {reports.id, seats.id}
    by_addon = {a.addon_id: a for a in associations}
    assert {i.addon_association_id for i in addon_items} == {a.id for a in associations}

    # Both removed on day -1: reports billed for days -4..-2 (3/7 of 70), the seats' two
    # unused days (2/7 of 42) credited, to the wallet.
    fp.subscriptions.remove_subscription_addon(
        addon_association_id=by_addon[reports.id].id, effective_date=day(-1)
    )
    assert _arrear_lines(fp, sub.id, reports.id) == ["30"]
    fp.subscriptions.remove_subscription_addon(
        addon_association_id=by_addon[seats.id].id, effective_date=day(-1), reason="too many"
    )
    _first, credit = _updates(fp, sub.id)
    assert credit.subtotal == "-12"
    # Without proration an ADVANCE add-on is neither charged for the rest of the period when
    # added (4/7 of 7) nor credited for its unused days when removed (2/7 of 7).
    backup = _addon(fp, "Backup")
    _price(fp, "ADDON", backup.id, "7", "ADVANCE")
    kept = fp.subscriptions.add_subscription_addon(
        subscription_id=sub.id, addon_id=backup.id, start_date=day(-3), proration_behavior="none"
    )
    fp.subscriptions.remove_subscription_addon(
        addon_association_id=kept.id, effective_date=day(-1), proration_behavior="none"
    )
    assert len(_updates(fp, sub.id)) == 2
    wallets = http.get(f"/v1/customers/{sub.customer_id}/wallets").json()
    assert [D(w["credit_balance"]) for w in wallets] == [D(12)]
    after = {
        a.addon_id: a for a in fp.subscriptions.get_subscription_addon_associations(id=sub.id).items
    }
    assert after[seats.id].addon_status == "cancelled"
    assert after[seats.id].cancellation_reason == "too many"
    assert after[seats.id].end_date == day(-1)
    # Nothing of either is billed next period.
    preview = fp.invoices.get_invoice_preview(subscription_id=sub.id)
    assert [line.entity_id for line in preview.line_items if line.period_start >= day(1)] == [
        sub.plan_id
    ]

    # Removed twice, or never attached: refused, nothing changes.
    twice = http.request(
        "DELETE", "/v1/subscriptions/addon", json={"addon_association_id": by_addon[seats.id].id}
    )
    assert twice.status_code == 400, twice.text
    missing = http.request(
        "DELETE", "/v1/subscriptions/addon", json={"addon_association_id": "addon_assoc_x"}
    )
    assert missing.status_code == 404, missing.text


def test_addon_entitlements_count_while_the_addon_is_on(fp: Any, http: httpx.Client) -> None:
    sub = _weekly_subscription(fp)
    feature = fp.features.create_feature(
        name=unique("Calls"),
        type_="metered",
        meter={
            "name": unique("calls"),
            "event_name": unique("call"),
            "aggregation": {"type": "COUNT"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    fp.entitlements.create_entitlement(
        feature_id=feature.id, feature_type="metered", plan_id=sub.plan_id, usage_limit=100
    )
    extra = _addon(fp, "Calls")
    fp.entitlements.create_entitlement(
        feature_id=feature.id,
        feature_type="metered",
        entity_type="ADDON",
        entity_id=extra.id,
        usage_limit=50,
    )

    def limit() -> tuple[Any, list[str]]:
        usage = http.get("/v1/customers/usage", params={"customer_id": sub.customer_id}).json()
        [one] = [f for f in usage["features"] if f["feature"]["id"] == feature.id]
        return one["total_limit"], sorted(s["entity_type"] for s in one["sources"])

    assert limit() == (100, ["plan"])
    added = fp.subscriptions.add_subscription_addon(subscription_id=sub.id, addon_id=extra.id)
    assert limit() == (150, ["addon", "plan"])
    fp.subscriptions.remove_subscription_addon(addon_association_id=added.id, change_at="immediate")
    assert limit() == (100, ["plan"])


def test_bad_addon_requests_are_refused_with_the_reason(fp: Any, http: httpx.Client) -> None:
    sub = _weekly_subscription(fp)
    euro = _addon(fp, "Euro")
    _price(fp, "ADDON", euro.id, "5", "ADVANCE", currency="eur")
    monthly = _addon(fp, "Monthly")
    _price(fp, "ADDON", monthly.id, "5", "ADVANCE", billing_period="MONTHLY")
    plain = _addon(fp, "Plain")
    path = "/v1/subscriptions/addon"

    def add(**body: Any) -> httpx.Response:
        return http.post(path, json={"subscription_id": sub.id, **body})

    assert add(addon_id="addon_missing").status_code == 404
    wrong = add(addon_id=euro.id)
    assert wrong.status_code == 400 and "currency" in wrong.text, wrong.text
    assert add(addon_id=monthly.id).status_code == 400
    for body, field in [
        ({"cadence": "onetime"}, "cadence"),
        ({"start_date": day(-10).isoformat()}, "start_date"),
        ({"start_date": day(3).isoformat()}, "start_date"),
        ({"proration_behavior": "sometimes"}, "proration_behavior"),
        ({"change_at": "end_of_period"}, "change_at"),
        ({"coupons": [{"coupon_id": "c"}]}, "coupons"),
        ({"override_line_items": [{"price_id": "p", "amount": "3"}]}, "amount"),
        ({"override_line_items": [{"price_id": "p", "quantity": "2"}]}, "override_line_items"),
    ]:
        bad = add(addon_id=plain.id, **body)
        assert bad.status_code == 400, (body, bad.text)
        assert field in bad.text, (body, bad.text)
    first = add(addon_id=plain.id)
    assert first.status_code == 200, first.text
    second = add(addon_id=plain.id)
    assert second.status_code == 409, second.text
    assert second.json()["details"]["addon_association_id"] == first.json()["id"]
    in_use = http.delete(f"/v1/addons/{plain.id}")
    assert in_use.status_code == 400, in_use.text
    assert len(fp.subscriptions.get_subscription_addon_associations(id=sub.id).items) == 1
    # Once the subscription is cancelled its association holds nothing: the add-on goes.
    fp.subscriptions.cancel_subscription(id=sub.id, cancellation_type="immediate")
    assert http.delete(f"/v1/addons/{plain.id}").status_code == 200
    assert http.get("/v1/subscriptions/subs_missing/addons/associations").status_code == 404
