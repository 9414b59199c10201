"""Bucketed meters on invoices (reference §6.2): each bucket (and group) priced on its own,
over real HTTP; the entitlement covers the earliest buckets first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import unique

TIERS = [
    {"up_to": 10, "unit_amount": "0.10"},
    {"up_to": 20, "unit_amount": "0.05"},
    {"unit_amount": "0.02"},
]
# A whole month that ended recently (a subscription may start at most a year back).
_THIS = datetime.now(UTC).year * 12 + datetime.now(UTC).month - 1
MONTH, _NEXT = (f"{y:04d}-{m + 1:02d}" for y, m in (divmod(_THIS - b, 12) for b in (3, 2)))
START = f"{MONTH}-01T00:00:00Z"
PERIOD = {"period_start": START, "period_end": f"{_NEXT}-01T00:00:00Z"}


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def bucketed_plan(
    http: httpx.Client, aggregation: dict[str, Any], prices: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    feature = _ok(
        http.post(
            "/v1/features",
            json={
                "name": "Seats",
                "type": "metered",
                "lookup_key": unique("seats"),
                "meter": {
                    "name": "seats",
                    "event_name": unique("seats"),
                    "aggregation": aggregation,
                    "reset_usage": "BILLING_PERIOD",
                },
            },
        )
    )
    plan = _ok(http.post("/v1/plans", json={"name": "Bucketed", "lookup_key": unique("p")}))
    common = {"entity_type": "PLAN", "entity_id": plan["id"], "price_unit_type": "FIAT"}
    common |= {"currency": "usd", "billing_period": "MONTHLY", "billing_period_count": 1}
    common |= {"type": "USAGE", "meter_id": feature["meter_id"], "invoice_cadence": "ARREAR"}
    for price in prices:
        _ok(http.post("/v1/prices", json={**common, **price}))
    return plan["id"], feature


def subscribe_and_send(
    http: httpx.Client, plan_id: str, event_name: str, events: list[tuple[str, dict[str, Any]]]
) -> str:
    customer = _ok(http.post("/v1/customers", json={"external_id": unique("c"), "name": "B"}))
    sub = _ok(
        http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": START,
            },
        )
    )
    batch = [
        {
            "event_name": event_name,
            "external_customer_id": customer["external_id"],
            "event_id": unique("e"),
            "timestamp": stamp,
            "properties": properties,
        }
        for stamp, properties in events
    ]
    _ok(http.post("/v1/events/bulk", json={"events": batch}), 202)
    return str(sub["id"])


def usage_lines(http: httpx.Client, subscription_id: str) -> list[tuple[str, str, str | None]]:
    preview = _ok(
        http.post("/v1/invoices/preview", json={"subscription_id": subscription_id, **PERIOD}),
        200,
    )
    return sorted(
        (line["amount"], line["quantity"], line.get("adjusted_entitlement_quantity"))
        for line in preview["line_items"]
        if line["price_type"] == "USAGE"
    )


# Hour 1 peaks at 9, hour 2 at 15: priced per bucket, not on the sum 24.
HOURLY_PEAKS = [
    (f"{MONTH}-02T10:05:00Z", {"v": 4}),
    (f"{MONTH}-02T10:40:00Z", {"v": 9}),
    (f"{MONTH}-02T11:10:00Z", {"v": 15}),
    (f"{MONTH}-02T11:50:00Z", {"v": 2}),
]


def test_bucketed_max_is_priced_per_bucket_slab_and_volume(http: httpx.Client) -> None:
    plan_id, feature = bucketed_plan(
        http,
        {"type": "MAX", "field": "v", "bucket_size": "HOUR"},
        [
            {"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": TIERS},
            {"billing_model": "TIERED", "tier_mode": "VOLUME", "tiers": TIERS},
            {"billing_model": "PACKAGE", "amount": "1", "transform_quantity": {"divide_by": 10}},
        ],
    )
    sub_id = subscribe_and_send(http, plan_id, feature["meter"]["event_name"], HOURLY_PEAKS)
    # G14 SLAB 0.90 + 1.25; G15 VOLUME 0.90 + 0.75; G13 PACKAGE 1 + 2 (on the sum 24: 1.58,
    # 0.48 and 3)
    assert usage_lines(http, sub_id) == [
        ("1.65", "24", None),
        ("2.15", "24", None),
        ("3", "24", None),
    ]


def test_grouped_bucketed_max_prices_each_group(http: httpx.Client) -> None:
    plan_id, feature = bucketed_plan(
        http,
        {"type": "MAX", "field": "v", "bucket_size": "DAY", "group_by": "region"},
        [{"billing_model": "TIERED", "tier_mode": "VOLUME", "tiers": TIERS}],
    )
    events = [
        (f"{MONTH}-03T01:00:00Z", {"v": 5, "region": "eu"}),
        (f"{MONTH}-03T02:00:00Z", {"v": 3, "region": "eu"}),
        (f"{MONTH}-03T03:00:00Z", {"v": 15, "region": "us"}),
    ]
    sub_id = subscribe_and_send(http, plan_id, feature["meter"]["event_name"], events)
    # G19: groups [5, 15] → 0.50 + 0.75 (the sum 20 at VOLUME would be 1.00)
    assert usage_lines(http, sub_id) == [("1.25", "20", None)]


def test_entitlement_covers_the_earliest_buckets_first(http: httpx.Client) -> None:
    plan_id, feature = bucketed_plan(
        http,
        {"type": "MAX", "field": "v", "bucket_size": "HOUR"},
        [{"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": TIERS}],
    )
    _ok(
        http.post(
            "/v1/entitlements",
            json={
                "plan_id": plan_id,
                "feature_id": feature["id"],
                "feature_type": "metered",
                "is_enabled": True,
                "usage_limit": 5,
                "usage_reset_period": "MONTHLY",
            },
        )
    )
    sub_id = subscribe_and_send(http, plan_id, feature["meter"]["event_name"], HOURLY_PEAKS)
    # buckets [9, 15]; 5 free come out of the first: [4, 15] → SLAB 0.40 + 1.25 (on the
    # billable sum 19 it would be 1.45)
    assert usage_lines(http, sub_id) == [("1.65", "19", "5")]
