"""Usage aggregation over real HTTP: every aggregation type, windows, filters, late events,
duplicates and environments — with exact expected values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, new_tenant, unique

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float = 0, days: int = 0) -> str:
    return (T0 + timedelta(days=days, hours=hours)).isoformat().replace("+00:00", "Z")


def meter(http: httpx.Client, event_name: str, aggregation: dict[str, Any], **extra: Any) -> str:
    response = http.post(
        "/v1/meters",
        json={
            "name": unique("m"),
            "event_name": event_name,
            "aggregation": aggregation,
            "reset_usage": "BILLING_PERIOD",
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send(http: httpx.Client, events: list[dict[str, Any]]) -> dict[str, str]:
    response = http.post("/v1/events/bulk", json={"events": events})
    assert response.status_code == 202, response.text
    return dict(response.json())


def usage(http: httpx.Client, meter_id: str, **body: Any) -> dict[str, Any]:
    payload = {"meter_id": meter_id, "start_time": at(), "end_time": at(days=10), **body}
    response = http.post("/v1/events/usage/meter", json=payload)
    assert response.status_code == 200, response.text
    return dict(response.json())


def value(http: httpx.Client, meter_id: str, **body: Any) -> Decimal:
    # Parse the JSON number exactly, without a float in between.
    import json

    raw = http.post(
        "/v1/events/usage/meter",
        json={"meter_id": meter_id, "start_time": at(), "end_time": at(days=10), **body},
    )
    assert raw.status_code == 200, raw.text
    return Decimal(str(json.loads(raw.text, parse_float=Decimal)["value"]))


def ev(name: str, customer: str, hours: float, eid: str, **props: Any) -> dict[str, Any]:
    return {
        "event_name": name,
        "external_customer_id": customer,
        "event_id": eid,
        "timestamp": at(hours),
        "properties": props,
    }


@pytest.fixture
def sample(http: httpx.Client) -> str:
    """Five events for customer c1, one for c2, on one name, with values 1.5, 2, 7, 3, 2."""
    name = unique("call")
    send(
        http,
        [
            ev(name, "c1", 0.5, f"{name}-1", tokens="1.5", model="a", user="u1"),
            ev(name, "c1", 1.5, f"{name}-2", tokens=2, model="b", user="u2"),
            ev(name, "c1", 1.75, f"{name}-3", tokens="7", model="a", user="u1"),
            ev(name, "c1", 26, f"{name}-4", tokens="3", model="a", user="u3"),
            ev(name, "c1", 27, f"{name}-5", model="a"),  # no tokens: counts as 0
            ev(name, "c2", 1, f"{name}-6", tokens="100", model="a", user="u9"),
        ],
    )
    return name


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ({"type": "COUNT"}, "5"),
        ({"type": "SUM", "field": "tokens"}, "13.5"),
        ({"type": "AVG", "field": "tokens"}, "2.7"),
        ({"type": "MAX", "field": "tokens"}, "7"),
        ({"type": "MIN", "field": "tokens"}, "0"),
        ({"type": "LATEST", "field": "tokens"}, "0"),
        ({"type": "COUNT_UNIQUE", "field": "user"}, "3"),
        ({"type": "SUM_WITH_MULTIPLIER", "field": "tokens", "multiplier": "0.5"}, "6.75"),
    ],
)
def test_every_aggregation_type_is_exact(
    http: httpx.Client, sample: str, aggregation: dict[str, Any], expected: str
) -> None:
    meter_id = meter(http, sample, aggregation)
    assert value(http, meter_id, external_customer_id="c1") == Decimal(expected)


def test_latest_takes_the_last_event_by_time(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "LATEST", "field": "tokens"})
    # Up to hour 26.5 the latest event is the one at hour 26 (tokens 3).
    assert value(http, meter_id, external_customer_id="c1", end_time=at(26.5)) == Decimal(3)


def test_weighted_sum_weights_by_time_left_in_the_period(http: httpx.Client) -> None:
    name = unique("seats")
    send(
        http,
        [
            {
                "event_name": name,
                "external_customer_id": "w",
                "event_id": f"{name}-a",
                "timestamp": at(days=0),
                "properties": {"seats": "100"},
            },
            {
                "event_name": name,
                "external_customer_id": "w",
                "event_id": f"{name}-b",
                "timestamp": at(days=15),
                "properties": {"seats": "100"},
            },
        ],
    )
    meter_id = meter(http, name, {"type": "WEIGHTED_SUM", "field": "seats"})
    # A 30-day period: 100 at the start counts 100, 100 at day 15 counts 50.
    total = value(http, meter_id, external_customer_id="w", start_time=at(), end_time=at(days=30))
    assert total == Decimal(150)


def test_bucketed_max_sums_the_maximum_of_each_bucket(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "MAX", "field": "tokens", "bucket_size": "HOUR"})
    # Hour 0: 1.5; hour 1: max(2, 7) = 7; hour 26: 3; hour 27: 0 → 11.5
    body = usage(http, meter_id, external_customer_id="c1")
    assert Decimal(str(body["value"])) == Decimal("11.5")
    assert [Decimal(str(r["value"])) for r in body["results"]] == [
        Decimal("1.5"),
        Decimal(7),
        Decimal(3),
        Decimal(0),
    ]
    daily = usage(http, meter_id, external_customer_id="c1", window_size="DAY")
    assert [Decimal(str(r["value"])) for r in daily["results"]] == [Decimal("8.5"), Decimal(3)]


def test_bucketed_max_grouped_by_a_property(http: httpx.Client, sample: str) -> None:
    meter_id = meter(
        http, sample, {"type": "MAX", "field": "tokens", "bucket_size": "DAY", "group_by": "model"}
    )
    # Day 1: model a max 7, model b max 2; day 2: model a max 3 → 12
    assert value(http, meter_id, external_customer_id="c1") == Decimal(12)


def test_windows_by_day_and_hour(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "SUM", "field": "tokens"})
    daily = usage(http, meter_id, external_customer_id="c1", window_size="DAY")
    assert [(r["window_size"], Decimal(str(r["value"]))) for r in daily["results"]] == [
        ("2026-03-01T00:00:00Z", Decimal("10.5")),
        ("2026-03-02T00:00:00Z", Decimal(3)),
    ]
    hourly = usage(http, meter_id, external_customer_id="c1", window_size="HOUR")
    assert [Decimal(str(r["value"])) for r in hourly["results"]] == [
        Decimal("1.5"),
        Decimal(9),
        Decimal(3),
        Decimal(0),
    ]
    # Days in a time zone 5 hours behind UTC: hour 0.5 UTC falls on the previous local day.
    local = usage(
        http, meter_id, external_customer_id="c1", window_size="DAY", timezone="America/Bogota"
    )
    assert [(r["window_size"], Decimal(str(r["value"]))) for r in local["results"]] == [
        ("2026-02-28T05:00:00Z", Decimal("10.5")),
        ("2026-03-01T05:00:00Z", Decimal(3)),
    ]


def test_partial_hours_at_the_edges_are_exact(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "SUM", "field": "tokens"})
    # [00:45, 26:30): events at 1.5 (2), 1.75 (7) and 26 (3)
    assert (
        value(http, meter_id, external_customer_id="c1", start_time=at(0.75), end_time=at(26.5))
        == 12
    )
    # End exclusive, start inclusive.
    assert (
        value(http, meter_id, external_customer_id="c1", start_time=at(1.5), end_time=at(1.75)) == 2
    )


def test_all_customers_and_filters(http: httpx.Client, sample: str) -> None:
    everyone = meter(http, sample, {"type": "SUM", "field": "tokens"})
    assert value(http, everyone) == Decimal("113.5")
    only_a = meter(
        http,
        sample,
        {"type": "SUM", "field": "tokens"},
        filters=[{"key": "model", "values": ["a"]}],
    )
    assert value(http, only_a, external_customer_id="c1") == Decimal("11.5")
    # Query-time filters narrow further.
    assert value(http, everyone, external_customer_id="c1", filters={"user": ["u1"]}) == Decimal(
        "8.5"
    )


def test_group_by_a_property(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "SUM", "field": "tokens"})
    body = usage(http, meter_id, external_customer_id="c1", group_by_property="model")
    groups = {g["group"]: Decimal(str(g["value"])) for g in body["groups"]}
    assert groups == {"a": Decimal("11.5"), "b": Decimal(2)}


def test_duplicates_and_late_events_count_once_in_their_window(
    http: httpx.Client, sample: str
) -> None:
    meter_id = meter(http, sample, {"type": "SUM", "field": "tokens"})
    before = value(http, meter_id, external_customer_id="c1")
    # Re-send an existing event with a different value: it is the same event, ignored.
    result = send(http, [ev(sample, "c1", 0.5, f"{sample}-1", tokens="999")])
    assert result["duplicates"] == "1"
    assert value(http, meter_id, external_customer_id="c1") == before
    # A late event lands in its own (past) window.
    send(http, [ev(sample, "c1", 2.25, f"{sample}-late", tokens="4")])
    daily = usage(http, meter_id, external_customer_id="c1", window_size="DAY")
    assert Decimal(str(daily["results"][0]["value"])) == Decimal("14.5")


def test_a_meter_created_after_its_events_counts_them(http: httpx.Client) -> None:
    name = unique("early")
    send(http, [ev(name, "c", 1, f"{name}-{i}", n="2") for i in range(4)])
    meter_id = meter(http, name, {"type": "SUM", "field": "n"})
    assert value(http, meter_id, external_customer_id="c") == 8
    # Events after creation are folded at write time too.
    send(http, [ev(name, "c", 2, f"{name}-more", n="1")])
    assert value(http, meter_id, external_customer_id="c") == 9


def test_changing_a_meters_filters_recounts_its_usage(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "SUM", "field": "tokens"})
    assert value(http, meter_id, external_customer_id="c1") == Decimal("13.5")
    updated = http.put(
        f"/v1/meters/{meter_id}", json={"filters": [{"key": "model", "values": ["b"]}]}
    )
    assert updated.status_code == 200
    assert value(http, meter_id, external_customer_id="c1") == 2


def test_events_before_their_customer_count_once_it_exists(http: httpx.Client) -> None:
    name = unique("pre")
    external = unique("later")
    send(http, [ev(name, external, 1, f"{name}-1", n="5")])
    meter_id = meter(http, name, {"type": "SUM", "field": "n"})
    customer = http.post("/v1/customers", json={"external_id": external, "name": "Later"}).json()
    assert value(http, meter_id, customer_id=customer["id"]) == 5


def test_usage_with_the_sdk(fp, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    external = unique("sdk")
    fp.customers.create_customer(external_id=external, name="SDK customer")
    feature = fp.features.create_feature(
        name=unique("API Tokens"),
        type_="metered",
        meter={
            "name": "tokens",
            "event_name": "sdk_call",
            "aggregation": {"type": "SUM", "field": "tokens"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    assert feature.meter_id and feature.meter_id.startswith("meter_")
    fp.events.ingest_event(
        event_name="sdk_call",
        external_customer_id=external,
        event_id="one",
        properties={"tokens": "2.5"},
        timestamp=at(1),
    )
    batch = [
        {
            "event_name": "sdk_call",
            "external_customer_id": external,
            "event_id": f"b-{i}",
            "properties": {"tokens": "10"},
            "timestamp": at(2),
        }
        for i in range(20)
    ]
    first = fp.events.ingest_events_bulk(events=batch)
    assert first["new"] == "20"
    resent = fp.events.ingest_events_bulk(events=batch)  # re-sent: acknowledged, not counted
    assert resent["duplicates"] == "20"
    by_meter = fp.events.get_usage_by_meter(
        meter_id=feature.meter_id,
        external_customer_id=external,
        start_time=T0,
        end_time=T0 + timedelta(days=1),
        window_size="HOUR",
    )
    assert by_meter.value == 202.5
    assert [r.value for r in by_meter.results] == [2.5, 200.0]
    stats = fp.events.get_usage_statistics(
        event_name="sdk_call",
        aggregation_type="COUNT",
        external_customer_id=external,
        start_time=T0,
        end_time=T0 + timedelta(days=1),
    )
    assert stats.value == 21.0
    summed = fp.events.get_usage_statistics(
        event_name="sdk_call",
        aggregation_type="SUM",
        property_name="tokens",
        external_customer_id=external,
        start_time=T0,
        end_time=T0 + timedelta(days=1),
    )
    assert summed.value == 202.5


def test_bad_usage_queries_are_400(http: httpx.Client, sample: str) -> None:
    meter_id = meter(http, sample, {"type": "COUNT"})
    bad_window = http.post(
        "/v1/events/usage/meter", json={"meter_id": meter_id, "window_size": "YEARLY"}
    )
    assert bad_window.status_code == 400
    backwards = http.post(
        "/v1/events/usage/meter",
        json={"meter_id": meter_id, "start_time": at(5), "end_time": at(1)},
    )
    assert backwards.status_code == 400
    assert http.post("/v1/events/usage/meter", json={"meter_id": "meter_nope"}).status_code == 404
    bad_type = http.post(
        "/v1/events/usage", json={"event_name": sample, "aggregation_type": "MEDIAN"}
    )
    assert bad_type.status_code == 400


def test_meters_of_another_environment_are_not_found(tenant: Tenant, http: httpx.Client) -> None:
    meter_id = meter(http, "x", {"type": "COUNT"})
    other = new_tenant(tenant.server)
    with other.client() as theirs:
        assert theirs.post("/v1/events/usage/meter", json={"meter_id": meter_id}).status_code == 404
        assert theirs.get(f"/v1/meters/{meter_id}").status_code == 404
