"""Event values at and past kernel.money's bounds, on every event store (SQLite, PostgreSQL,
ClickHouse): out-of-bound values count as 0 and are never expanded on disk, an event stored
before a meter never makes that meter's creation fail, and sums keep every digit up to the
bound."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import create_engine, text

from tests.api.flexprice.test_usage import at, ev, meter, value
from tests.conftest import Tenant, unique
from tests.security.test_numeric_bounds import raw_post

D = Decimal


def _longest_stored_decimal(database_url: str) -> int:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            lengths = [
                conn.execute(
                    text(f"SELECT MAX(LENGTH(CAST({column} AS TEXT))) FROM {table}")
                ).scalar()
                or 0
                for table in ("usage_hourly", "usage_daily")
                for column in ("sum_value", "min_value", "max_value", "latest_value")
            ]
    finally:
        engine.dispose()
    return max(lengths)


def test_huge_event_values_count_zero_and_are_not_expanded(
    tenant: Tenant, http: httpx.Client
) -> None:
    name = unique("huge")
    customer = unique("c")
    # Stored before any meter exists, then meters are created: their rebuild reads them.
    early = [
        f'{{"event_name": "{name}", "external_customer_id": "{customer}",'
        f' "event_id": "{name}-early-{i}", "timestamp": "{at(1)}", "properties": {{"n": {v}}}}}'
        for i, v in enumerate(["1e999999", '"1e999999"', "-1e999999", "1e30", "7"])
    ]
    stored = raw_post(http, "/v1/events/bulk", '{"events": [' + ",".join(early) + "]}")
    assert stored.status_code == 202, stored.text
    meters = {
        kind: meter(http, name, {"type": kind, "field": "n"})  # 201, not a 500
        for kind in ("SUM", "MAX", "MIN", "LATEST", "AVG")
    }
    late = [
        f'{{"event_name": "{name}", "external_customer_id": "{customer}",'
        f' "event_id": "{name}-late-{i}", "timestamp": "{at(2)}", "properties": {{"n": {v}}}}}'
        for i, v in enumerate(["1e999999"] * 50)
    ]
    stored = raw_post(http, "/v1/events/bulk", '{"events": [' + ",".join(late) + "]}")
    assert stored.status_code == 202, stored.text
    assert value(http, meters["SUM"]) == 7
    assert value(http, meters["MAX"]) == 7
    assert value(http, meters["MIN"]) == 0
    assert value(http, meters["LATEST"]) == 0
    assert value(http, meters["AVG"]) == D("0.127272727273")  # 7 / 55, to 12 places
    assert value(http, meters["SUM"], external_customer_id=customer, window_size="HOUR") == 7
    if tenant.server.event_store == "sql":
        assert _longest_stored_decimal(tenant.server.database_url) < 64
    listed = http.get("/v1/events", params={"event_name": name, "page_size": 5})
    assert listed.status_code == 200, listed.text
    assert len(listed.text) < 10_000  # the events read back as sent


def test_a_sum_keeps_every_digit_up_to_the_bound(http: httpx.Client) -> None:
    name = unique("exact")
    sum_meter = meter(http, name, {"type": "SUM", "field": "n"})
    amounts = ["12345678901234567890.123456789012", "0.000000000001", "1"]
    events = [
        ev(name, "c1", hours, f"{name}-{i}", n=amount)
        for i, (hours, amount) in enumerate(zip((0.5, 1.5, 30.5), amounts, strict=True))
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    exact = D("12345678901234567891.123456789013")  # 32 significant digits
    assert value(http, sum_meter) == exact
    assert value(http, sum_meter, external_customer_id="c1") == exact
    # Past the bound a total stays at the largest value (never an overflow, never a 500).
    big = [ev(name, "c2", 0.5, f"{name}-big-{i}", n="9" * 26) for i in range(20)]
    assert http.post("/v1/events/bulk", json={"events": big}).status_code == 202
    assert value(http, sum_meter, external_customer_id="c2") > D(10) ** 26 - 1


def test_the_usage_report_answers_with_huge_values_stored(
    tenant: Tenant, http: httpx.Client
) -> None:
    name = unique("rep")
    customer = unique("c")
    created = http.post(
        "/v1/features",
        json={
            "name": "Bytes",
            "lookup_key": unique("bytes"),
            "type": "metered",
            "meter": {
                "name": "Bytes",
                "event_name": name,
                "aggregation": {"type": "SUM", "field": "bytes"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    )
    assert created.status_code == 201, created.text
    body = ",".join(
        f'{{"event_name": "{name}", "external_customer_id": "{customer}",'
        f' "timestamp": "2026-11-01T10:00:00Z", "properties": {{"bytes": {v}}}}}'
        for v in ("1e999999", "1e40", "2", '"3"')
    )
    assert raw_post(http, "/v1/events/bulk", '{"events": [' + body + "]}").status_code == 202
    report = http.get(
        "/v1/usage",
        params={
            "external_customer_id": customer,
            "startDate": "2026-11-01",
            "endDate": "2026-11-01",
        },
    )
    assert report.status_code == 200, report.text
    assert report.json()["totals"] == {"Bytes": 5}


def test_filters_and_groups_never_expand_huge_or_tiny_numbers(
    tenant: Tenant, http: httpx.Client
) -> None:
    name = unique("grp")
    events = ",".join(
        f'{{"event_name": "{name}", "external_customer_id": "c", "event_id": "{name}-{i}",'
        f' "timestamp": "{at(1)}", "properties": {{"n": 2, "g": {g}}}}}'
        for i, g in enumerate(["1e999999", "1e-999999", "1e999999", "5"])
    )
    assert raw_post(http, "/v1/events/bulk", '{"events": [' + events + "]}").status_code == 202
    filtered = meter(
        http, name, {"type": "SUM", "field": "n"}, filters=[{"key": "g", "values": ["1E+999999"]}]
    )
    assert value(http, filtered) == 0  # no number a meter knows: it matches no filter
    summed = meter(http, name, {"type": "SUM", "field": "n"})
    grouped = http.post(
        "/v1/events/usage/meter",
        json={
            "meter_id": summed,
            "start_time": at(),
            "end_time": at(days=10),
            "group_by_property": "g",
        },
    )
    assert grouped.status_code == 200, grouped.text
    assert len(grouped.text) < 10_000
    assert value(http, summed, filters={"g": ["1E-999999"]}) == 0
    assert value(http, summed, filters={"g": ["5"]}) == 2
