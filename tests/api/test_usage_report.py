"""GET /v1/usage: the customer usage report, read with a customer's own key."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.conftest import Tenant, unique


def setup_usage(http: httpx.Client) -> tuple[str, str]:
    customer = unique("cust")
    name = unique("api")
    for feature_name, aggregation in (
        ("ApiCalls", {"type": "COUNT"}),
        ("StorageBytes", {"type": "MAX", "field": "bytes"}),
    ):
        created = http.post(
            "/v1/features",
            json={
                "name": f"{feature_name}",
                "lookup_key": unique(feature_name.lower()),
                "type": "metered",
                "meter": {
                    "name": feature_name,
                    "event_name": f"{name}-{feature_name}",
                    "aggregation": aggregation,
                    "reset_usage": "BILLING_PERIOD",
                },
            },
        )
        assert created.status_code == 201, created.text
    events = [
        {
            "event_name": f"{name}-ApiCalls",
            "external_customer_id": customer,
            "timestamp": f"2026-11-0{d}T10:00:00Z",
        }
        for d in (1, 1, 2)
    ] + [
        {
            "event_name": f"{name}-StorageBytes",
            "external_customer_id": customer,
            "timestamp": "2026-11-02T10:00:00Z",
            "properties": {"bytes": "1500.5"},
        },
        {
            "event_name": f"{name}-ApiCalls",
            "external_customer_id": "someone-else",
            "timestamp": "2026-11-01T10:00:00Z",
        },
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    key = http.post(
        "/v1/secrets/api/keys", json={"name": "portal", "customer_external_id": customer}
    )
    assert key.status_code == 201
    return customer, key.json()["api_key"]


def test_a_customer_reads_its_own_daily_usage(tenant: Tenant, http: httpx.Client) -> None:
    _customer, key = setup_usage(http)
    with httpx.Client(
        base_url=tenant.server.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as portal:
        report = portal.get(
            "/v1/usage", params={"startDate": "2026-11-01", "endDate": "2026-11-02"}
        )
        assert report.status_code == 200, report.text
        assert report.json() == {
            "startDate": "2026-11-01",
            "endDate": "2026-11-02",
            "data": [
                {"period": "2026-11-01", "metricType": "ApiCalls", "value": 2},
                {"period": "2026-11-02", "metricType": "ApiCalls", "value": 1},
                {"period": "2026-11-02", "metricType": "StorageBytes", "value": 1501},
            ],
            "totals": {"ApiCalls": 3, "StorageBytes": 1501},
        }
        only = portal.get(
            "/v1/usage",
            params={"startDate": "2026-11-02", "endDate": "2026-11-02", "metric": "apicalls"},
        )
        assert only.json()["data"] == [
            {"period": "2026-11-02", "metricType": "ApiCalls", "value": 1}
        ]
        assert only.json()["totals"] == {"ApiCalls": 1}
        # The key is for one customer: it may not read another's, nor use the vendor API.
        other = portal.get("/v1/usage", params={"external_customer_id": "someone-else"})
        assert other.status_code == 403
        assert "error" in other.json()
        assert portal.get("/v1/events").status_code == 403


def test_defaults_are_the_last_thirty_days_to_today(tenant: Tenant, http: httpx.Client) -> None:
    customer, key = setup_usage(http)
    today = datetime.now(UTC).date().isoformat()
    http.post("/v1/events", json={"event_name": "x", "external_customer_id": customer})
    with httpx.Client(
        base_url=tenant.server.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as portal:
        body = portal.get("/v1/usage").json()
    assert body["endDate"] == today
    assert (
        datetime.fromisoformat(body["endDate"]) - datetime.fromisoformat(body["startDate"])
    ).days == 30


def test_a_vendor_key_names_the_customer(http: httpx.Client) -> None:
    customer, _key = setup_usage(http)
    report = http.get(
        "/v1/usage",
        params={
            "external_customer_id": customer,
            "startDate": "2026-11-01",
            "endDate": "2026-11-01T23:59:59Z",
        },
    )
    assert report.status_code == 200
    assert report.json()["totals"]["ApiCalls"] == 2
    assert http.get("/v1/usage").status_code == 400


def test_errors_use_the_error_envelope(tenant: Tenant, http: httpx.Client) -> None:
    _customer, key = setup_usage(http)
    with httpx.Client(
        base_url=tenant.server.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as portal:
        backwards = portal.get(
            "/v1/usage", params={"startDate": "2026-11-05", "endDate": "2026-11-01"}
        )
        assert backwards.status_code == 400
        assert backwards.json()["error"]["code"] == "invalid_date_range"
        assert set(backwards.json()["error"]) == {"code", "message", "details"}
        garbage = portal.get("/v1/usage", params={"startDate": "last tuesday"})
        assert garbage.status_code == 400
        assert "error" in garbage.json()
        unknown = portal.get("/v1/usage", params={"metric": "Sessions"})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "unknown_metric"
    with httpx.Client(base_url=tenant.server.base_url) as anonymous:
        missing = anonymous.get("/v1/usage")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        wrong = anonymous.get("/v1/usage", headers={"Authorization": "Bearer sk_nope"})
        assert wrong.status_code == 401
        malformed = anonymous.get("/v1/usage", headers={"Authorization": "Basic abc"})
        assert malformed.status_code == 401
