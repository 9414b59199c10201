"""POST /v1/events/analytics through the SDK: usage per feature from the aggregates, and its
cost as the invoice computes it (tiers and included usage counted once for the range)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import unique

DAY_A, DAY_B = "2026-11-10", "2026-11-11"


def _metered(fp: Flexprice, *, included: int | None) -> tuple[Any, Any, Any]:
    """A customer on a plan pricing tokens by slab (0.01 up to 1,000, then 0.005), with
    ``included`` tokens a month, and 1,200 tokens used over two days."""
    customer = fp.customers.create_customer(external_id=unique("c"), name="Analytics")
    feature = tokens_feature(fp)
    plan = fp.plans.create_plan(name="Usage", lookup_key=unique("plan"))
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="TIERED",
        tier_mode="SLAB",
        tiers=[{"up_to": 1000, "unit_amount": "0.01"}, {"unit_amount": "0.005"}],
        invoice_cadence="ARREAR",
    )
    if included is not None:
        fp.entitlements.create_entitlement(
            plan_id=plan.id,
            feature_id=feature.id,
            feature_type="metered",
            is_enabled=True,
            usage_limit=included,
            usage_reset_period="MONTHLY",
        )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date="2026-11-01T00:00:00Z",
    )
    used = [(f"{DAY_A}T09:00:00Z", 300), (f"{DAY_A}T18:00:00Z", 400), (f"{DAY_B}T08:00:00Z", 500)]
    fp.events.ingest_events_bulk(
        events=[
            {
                "event_name": feature.meter.event_name,
                "external_customer_id": customer.external_id,
                "event_id": unique("e"),
                "timestamp": at,
                "properties": {"tokens": str(tokens)},
            }
            for at, tokens in used
        ]
    )
    return customer, feature, sub


@pytest.mark.parametrize(
    ("included", "day_costs", "total"),
    [
        # 700 + 500 tokens: slab 1,000 × 0.01 + 200 × 0.005.
        (None, ["7", "4"], "11"),
        # 500 included: 200 billed on day A, then 500 more on day B.
        (500, ["2", "5"], "7"),
    ],
)
def test_usage_and_cost_per_feature_and_day(
    fp: Flexprice, included: int | None, day_costs: list[str], total: str
) -> None:
    customer, feature, sub = _metered(fp, included=included)
    found = fp.events.get_usage_analytics(
        external_customer_id=customer.external_id,
        start_time=f"{DAY_A}T00:00:00Z",
        end_time=f"{DAY_B}T23:00:00Z",
        window_size="DAY",
    )
    assert (found.currency, found.total_cost) == ("usd", total)
    [item] = found.items
    assert (item.feature_id, item.meter_id, item.name) == (feature.id, feature.meter_id, "Tokens")
    assert (item.total_usage, item.total_cost, item.subscription_id) == ("1200", total, sub.id)
    assert [(p.timestamp[:10], p.usage, p.cost) for p in item.points] == [
        (DAY_A, "700", day_costs[0]),
        (DAY_B, "500", day_costs[1]),
    ]
    # Day B alone: its own slab position, and the whole allowance again.
    day_b = fp.events.get_usage_analytics(
        external_customer_id=customer.external_id,
        start_time=f"{DAY_B}T00:00:00Z",
        end_time=f"{DAY_B}T23:00:00Z",
        feature_ids=[feature.id],
    )
    assert day_b.items[0].total_usage == "500"
    assert day_b.items[0].total_cost == ("5" if included is None else "0")


def test_bad_analytics_requests_are_refused_by_name(fp: Flexprice, http: httpx.Client) -> None:
    customer, feature, _sub = _metered(fp, included=None)
    for body, status, needle in (
        ({"external_customer_id": customer.external_id, "group_by": ["source"]}, 400, "group_by"),
        ({"external_customer_id": customer.external_id, "sources": ["api"]}, 400, "sources"),
        ({"external_customer_id": customer.external_id, "feature_ids": ["feat_x"]}, 404, "feat_x"),
        ({"external_customer_id": customer.external_id, "window_size": "FORTNIGHT"}, 400, "window"),
        (
            {
                "external_customer_id": customer.external_id,
                "start_time": f"{DAY_B}T00:00:00Z",
                "end_time": f"{DAY_A}T00:00:00Z",
            },
            400,
            "end_time",
        ),
        ({"external_customer_id": "nobody"}, 404, "nobody"),
        ({}, 400, "external_customer_id"),
    ):
        answer = http.post("/v1/events/analytics", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert needle in answer.text, answer.text
    with pytest.raises(errors.ErrorResponse):
        fp.events.get_usage_analytics(external_customer_id=customer.external_id, group_by=["x"])
    # A feature with no usage and no price is left out unless asked for by id.
    assert [
        i.feature_id
        for i in fp.events.get_usage_analytics(
            external_customer_id=customer.external_id, start_time=f"{DAY_A}T00:00:00Z"
        ).items
    ] == [feature.id]
