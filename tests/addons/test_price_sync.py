"""sync_plan_prices and sync_addon_prices through the SDK: a plan's or an add-on's price
changes reach its subscriptions from their next period, once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.addons.test_addons import _addon, _price, _weekly_subscription, day


def _next_period(fp: Any, subscription_id: str) -> list[tuple[str, str]]:
    preview = fp.invoices.get_invoice_preview(subscription_id=subscription_id)
    return sorted(
        (line.entity_id, line.amount) for line in preview.line_items if line.period_start >= day(1)
    )


def test_a_plans_new_prices_reach_its_subscriptions_next_period(
    fp: Any, http: httpx.Client
) -> None:
    sub = _weekly_subscription(fp)  # the plan's 7 a week, in advance
    [old] = [i for i in sub.line_items if i.entity_type == "plan"]
    support = _price(fp, "PLAN", sub.plan_id, "3", "ADVANCE")
    fp.prices.delete_price(id=old.price_id)
    result = fp.plans.sync_plan_prices(id=sub.plan_id)
    assert result.workflow_id and "1 of 1 subscriptions changed" in (result.message or "")
    report = http.post(f"/v1/plans/{sub.plan_id}/sync/subscriptions").json()["report"]
    assert report["subscriptions_changed"] == 0, "a second sync has nothing to do"
    items = fp.subscriptions.get_subscription(id=sub.id).line_items
    by_price = {i.price_id: i for i in items}
    assert by_price[old.price_id].end_date == day(1)
    assert by_price[support.id].start_date == day(1)
    # This period is as it was; the next one bills the plan's current price only.
    assert _next_period(fp, sub.id) == [(sub.plan_id, "3")]
    assert http.post("/v1/plans/plan_missing/sync/subscriptions").status_code == 404


def test_an_addons_new_prices_reach_the_subscriptions_that_have_it(
    fp: Any, http: httpx.Client
) -> None:
    sub = _weekly_subscription(fp)
    extra = _addon(fp, "Extra")
    first = _price(fp, "ADDON", extra.id, "10", "ADVANCE")
    added = fp.subscriptions.add_subscription_addon(
        subscription_id=sub.id,
        addon_id=extra.id,
        override_line_items=[{"price_id": first.id, "quantity": "2"}],
    )
    second = _price(fp, "ADDON", extra.id, "4", "ADVANCE")
    fp.prices.delete_price(id=first.id)
    fp.addons.sync_addon_prices(id=extra.id)
    items = [
        i
        for i in fp.subscriptions.get_subscription(id=sub.id).line_items
        if i.entity_type == "addon"
    ]
    starting = [i for i in items if i.price_id == second.id]
    assert [(i.quantity, i.start_date, i.addon_association_id) for i in starting] == [
        ("2", day(1), added.id)
    ], "the seats carry over to the new version, on the same association"
    assert _next_period(fp, sub.id) == sorted([(sub.plan_id, "7"), (extra.id, "8")])
    again = http.post(f"/v1/addons/{extra.id}/sync/subscriptions").json()["report"]
    assert again["subscriptions_changed"] == 0
    assert http.post("/v1/addons/addon_missing/sync/subscriptions").status_code == 404
