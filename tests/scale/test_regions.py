"""Two regions, two independent deployments (an `api.` and an `api-eu.` host).

Each region has its own database and event store; keys, customers and events belong to one
region and never leave it. A key used against the other region's server is unknown there:
401 in each surface's own error shape. The catalog (meters, features) is what a vendor
replicates, by reading it from one region's API and creating it in the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, new_tenant, start_server, stop_server


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("regions")
    us = start_server(f"sqlite:///{root / 'us.db'}", root)
    try:
        eu = start_server(f"sqlite:///{root / 'eu.db'}", root)
        try:
            yield us, eu
        finally:
            stop_server(eu)
    finally:
        stop_server(us)


def test_a_key_of_one_region_is_unknown_in_the_other(regions: tuple[Server, Server]) -> None:
    us, eu = regions
    us_vendor = new_tenant(us)
    with us_vendor.client() as home:
        assert home.get("/v1/events").status_code == 200
        customer_key = home.post(
            "/v1/secrets/api/keys", json={"name": "portal", "customer_external_id": "acme"}
        )
    with eu.client(us_vendor.key) as abroad:
        billing = abroad.get("/v1/events")
        assert billing.status_code == 401
        assert billing.json()["http_status_code"] == 401
        licensing = abroad.get(
            "/api/entitlements", headers={"Authorization": f"Bearer {us_vendor.key}"}
        )
        assert licensing.status_code == 401
        assert licensing.headers["content-type"].startswith("application/problem+json")
        assert licensing.json()["status"] == 401
    assert customer_key.status_code == 201, customer_key.text
    portal_key = customer_key.json()["api_key"]
    with us.client() as home_portal:
        at_home = home_portal.get("/v1/usage", headers={"Authorization": f"Bearer {portal_key}"})
    assert at_home.status_code == 200, at_home.text
    with eu.client() as abroad:
        report = abroad.get("/v1/usage", headers={"Authorization": f"Bearer {portal_key}"})
    assert report.status_code == 401
    assert report.json()["error"]["code"] == "unauthorized"


def _usage(server: Server, key: str, meter_id: str) -> Any:
    with server.client(key) as http:
        response = http.post(
            "/v1/events/usage/meter",
            json={
                "meter_id": meter_id,
                "external_customer_id": "acme",
                "start_time": "2026-03-01T00:00:00Z",
                "end_time": "2026-03-02T00:00:00Z",
            },
        )
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_the_catalog_is_replicated_and_events_stay_in_their_region(
    regions: tuple[Server, Server],
) -> None:
    us, eu = regions
    us_vendor, eu_vendor = new_tenant(us), new_tenant(eu)
    definition = {
        "name": "API calls",
        "event_name": "api_call",
        "aggregation": {"type": "SUM", "field": "units"},
        "filters": [{"key": "tier", "values": ["paid"]}],
        "reset_usage": "BILLING_PERIOD",
    }
    with us_vendor.client() as home:
        created = home.post("/v1/meters", json=definition)
        assert created.status_code == 201, created.text
        exported = home.get(f"/v1/meters/{created.json()['id']}").json()
    # Import: the exported definition, re-created in the other region (ids are per region).
    imported_body = {
        key: exported[key]
        for key in ("name", "event_name", "aggregation", "filters", "reset_usage")
    }
    with eu_vendor.client() as eu_http:
        imported = eu_http.post("/v1/meters", json=imported_body)
        assert imported.status_code == 201, imported.text
        replica = eu_http.get(f"/v1/meters/{imported.json()['id']}").json()
    for key in ("name", "event_name", "aggregation", "filters", "reset_usage"):
        assert replica[key] == exported[key]

    def event(event_id: str, units: int) -> dict[str, Any]:
        return {
            "event_name": "api_call",
            "external_customer_id": "acme",
            "event_id": event_id,
            "timestamp": "2026-03-01T10:00:00Z",
            "properties": {"units": units, "tier": "paid"},
        }

    with us_vendor.client() as home:
        assert home.post("/v1/events", json=event("r-1", 7)).status_code == 202
    with eu_vendor.client() as eu_http:
        assert eu_http.post("/v1/events", json=event("r-2", 5)).status_code == 202
    # The same meter, each region counting only its own events.
    assert _usage(us, us_vendor.key, created.json()["id"]) == 7
    assert _usage(eu, eu_vendor.key, imported.json()["id"]) == 5
