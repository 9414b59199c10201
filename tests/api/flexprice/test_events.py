"""Event ingestion over real HTTP: acknowledgement, dedup, validation, limits."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant, unique


def test_single_event_is_acknowledged_with_its_id(http: httpx.Client) -> None:
    response = http.post(
        "/v1/events",
        json={"event_name": "api_call", "external_customer_id": "c1", "event_id": "e-1"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Event accepted for processing"
    assert body["event_id"] == "e-1"
    assert body["new"] == "1"


def test_event_id_defaults_to_a_new_id(http: httpx.Client) -> None:
    response = http.post("/v1/events", json={"event_name": "x", "external_customer_id": "c"})
    assert response.status_code == 202
    assert response.json()["event_id"].startswith("event_")


def test_duplicates_are_acknowledged_and_stored_once(http: httpx.Client) -> None:
    events = [
        {"event_name": "api_call", "external_customer_id": "c1", "event_id": f"d-{i}"}
        for i in range(5)
    ]
    first = http.post("/v1/events/bulk", json={"events": events + events[:2]})
    assert first.status_code == 202
    assert first.json() == {
        "message": "Events accepted for processing",
        "accepted": "7",
        "new": "5",
        "duplicates": "2",
    }
    again = http.post("/v1/events/bulk", json={"events": events})
    assert again.json()["new"] == "0"
    assert again.json()["duplicates"] == "5"
    listed = http.get("/v1/events", params={"external_customer_id": "c1"}).json()
    assert listed["total_count"] == 5


def test_batch_errors_name_the_event_index_and_store_nothing(http: httpx.Client) -> None:
    customer = unique("c")
    response = http.post(
        "/v1/events/bulk",
        json={
            "events": [
                {"event_name": "ok", "external_customer_id": customer},
                {"event_name": "ok", "external_customer_id": customer, "timestamp": "yesterday"},
            ]
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "events[1].timestamp" in body["details"]
    assert (
        http.get("/v1/events", params={"external_customer_id": customer}).json()["total_count"] == 0
    )


def test_wrong_types_malformed_json_and_limits(http: httpx.Client) -> None:
    wrong = http.post("/v1/events", json={"event_name": 5, "external_customer_id": "c"})
    assert wrong.status_code == 400
    assert "event_name" in wrong.json()["details"]
    malformed = http.post(
        "/v1/events/bulk", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "validation_error"
    empty = http.post("/v1/events/bulk", json={"events": []})
    assert empty.status_code == 400
    too_many = http.post(
        "/v1/events/bulk",
        json={"events": [{"event_name": "x", "external_customer_id": "c"}] * 1001},
    )
    assert too_many.status_code == 400
    assert "events" in too_many.json()["details"]
    huge = http.post(
        "/v1/events",
        content=b'{"event_name":"x","external_customer_id":"c","properties":{"a":"'
        + b"x" * (9 * 1024 * 1024)
        + b'"}}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["http_status_code"] == 413


def test_unknown_fields_are_ignored(http: httpx.Client) -> None:
    response = http.post(
        "/v1/events",
        json={"event_name": "x", "external_customer_id": "c", "surprise": {"a": 1}},
    )
    assert response.status_code == 202


def test_unauthenticated_requests_get_401_in_the_error_shape(tenant: Tenant) -> None:
    with tenant.server.client() as anonymous:
        response = anonymous.post(
            "/v1/events", json={"event_name": "x", "external_customer_id": "c"}
        )
    assert response.status_code == 401
    assert response.json()["http_status_code"] == 401
    with tenant.server.client("sk_not_a_key") as wrong:
        assert wrong.get("/v1/events").status_code == 401


def test_events_of_another_environment_are_invisible(tenant: Tenant) -> None:
    from tests.conftest import new_tenant

    other = new_tenant(tenant.server)
    with tenant.client() as mine, other.client() as theirs:
        mine.post(
            "/v1/events", json={"event_name": "x", "external_customer_id": "c", "event_id": "iso-1"}
        )
        assert theirs.get("/v1/events/lookup", params={"id": "iso-1"}).status_code == 404
        assert mine.get("/v1/events/lookup", params={"id": "iso-1"}).status_code == 200
        # The same event id in another environment is a different event, not a duplicate.
        again = theirs.post(
            "/v1/events", json={"event_name": "x", "external_customer_id": "c", "event_id": "iso-1"}
        )
        assert again.json()["new"] == "1"
