"""Limits on hostile input: body size, batch length, page size, string lengths, number
ranges and nesting depth are refused with a 4xx in the dialect's shape, never a 5xx, and
oversized or deeply nested bodies are refused cheaply."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import Tenant, unique

MIB = 1024 * 1024


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _flexprice_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert body["http_status_code"] == status
    return body  # type: ignore[no-any-return]


def test_a_body_over_the_size_limit_is_413_before_it_is_read(tenant: Tenant) -> None:
    # The declared length alone is enough: the server answers before a byte of the body.
    host, port = tenant.server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/events/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"x-api-key: {tenant.key}\r\nContent-Length: {9 * MIB}\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413 ")
    with tenant.client() as http:
        streamed = http.post(
            "/v1/customers",
            content=iter([b"{" + b" " * MIB] * 9),
            headers={"content-type": "application/json"},
        )
        assert _flexprice_error(streamed, 413)["code"] == "validation_error"
    api = httpx.post(
        tenant.server.base_url + "/api/customers",
        content=b"{" + b" " * (9 * MIB),
        headers={"Authorization": f"Bearer {tenant.key}", "content-type": "application/json"},
    )
    assert api.status_code == 413
    assert api.headers["content-type"] == "application/problem+json"


def test_batch_length_page_size_and_string_lengths(tenant: Tenant) -> None:
    event = {"event_name": "e", "external_customer_id": "c"}
    with tenant.client() as http:
        assert http.post("/v1/events/bulk", json={"events": [event] * 1000}).status_code == 202
        too_many = http.post("/v1/events/bulk", json={"events": [event] * 1001})
        _flexprice_error(too_many, 400)
        long_name = http.post("/v1/events", json={**event, "event_name": "e" * 256})
        assert "event_name" in str(_flexprice_error(long_name, 400)["details"])
        assert http.post("/v1/events", json={**event, "event_name": "e" * 255}).status_code == 202
        _flexprice_error(http.get("/v1/customers", params={"limit": 1001}), 400)
        assert http.get("/v1/customers", params={"limit": 1000}).status_code == 200
        long_id = http.post("/v1/customers", json={"external_id": "x" * 256, "name": "n"})
        _flexprice_error(long_id, 400)


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        # Regressions: offsets past a 64-bit integer were a 500 (the database overflowed).
        ("POST", "/v1/plans/search", None, {"offset": 10**40}),
        ("GET", "/v1/customers", {"offset": str(10**30)}, None),
        ("GET", "/v1/features", {"offset": str(2**63)}, None),
        ("POST", "/v1/customers/search", None, {"offset": 2**64}),
    ],
)
def test_numbers_out_of_range_are_400(
    tenant: Tenant, method: str, path: str, params: dict[str, str] | None, body: object
) -> None:
    with tenant.client() as http:
        response = http.request(method, path, params=params, json=body)
    _flexprice_error(response, 400)


def test_nesting_depth_of_properties_and_metadata(tenant: Tenant) -> None:
    event = {"event_name": "e", "external_customer_id": "c", "event_id": unique("deep")}
    with tenant.client() as http:
        ok = http.post("/v1/events", json={**event, "properties": _nested(8)})
        assert ok.status_code == 202, ok.text
        deep = http.post(
            "/v1/events", json={**event, "event_id": unique("deep"), "properties": _nested(9)}
        )
        assert "properties" in str(_flexprice_error(deep, 400)["details"])
        nested_metadata = http.post(
            "/v1/customers",
            json={"external_id": unique("c"), "name": "n", "metadata": {"a": {"b": "c"}}},
        )
        _flexprice_error(nested_metadata, 400)


@pytest.mark.parametrize(
    "path", ["/v1/events", "/v1/events/bulk", "/v1/customers", "/v1/plans/search"]
)
def test_pathologically_nested_json_is_refused_not_a_500(tenant: Tenant, path: str) -> None:
    hostile = b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with tenant.client() as http:
        response = http.post(path, content=hostile, headers={"content-type": "application/json"})
    _flexprice_error(response, 400)


def test_pathologically_nested_json_on_the_licensing_api(tenant: Tenant) -> None:
    hostile = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(
        tenant.server.base_url + "/api/customers",
        content=hostile,
        headers={"Authorization": f"Bearer {tenant.key}", "content-type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"


# --- regressions found by the fuzzer (500s on PostgreSQL) ---------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", "/v1/usage", {"external_customer_id": "a\x00b"}, None),
        ("GET", "/v1/features", {"lookup_key": "\x00"}, None),
        ("POST", "/v1/customers", None, {"external_id": "a\x00", "name": "n"}),
        ("POST", "/v1/events", None, {"event_name": "e\x00", "external_customer_id": "c"}),
        (
            "POST",
            "/v1/events/bulk",
            None,
            {
                "events": [
                    {"event_name": "e", "external_customer_id": "c", "properties": {"p": "\x00"}}
                ]
            },
        ),
    ],
)
def test_the_nul_character_is_refused_with_a_400(
    tenant: Tenant, method: str, path: str, params: dict[str, str] | None, body: object
) -> None:
    with tenant.client() as http:
        response = http.request(method, path, params=params, json=body)
    assert response.status_code == 400, response.text[:300]
    assert "NUL" in response.text


def test_the_nul_character_on_the_licensing_api(tenant: Tenant) -> None:
    response = httpx.post(
        tenant.server.base_url + "/api/customers",
        json={"name": "a\x00"},
        headers={"Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_an_escaped_backslash_before_u0000_is_plain_text(tenant: Tenant) -> None:
    with tenant.client() as http:
        created = http.post("/v1/customers", json={"external_id": unique("c"), "name": "\\u0000"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "\\u0000"


def test_nul_escape_detection() -> None:
    from meterline.api.http.guards import has_nul_escape

    assert has_nul_escape(b'{"a": "\\u0000"}')
    assert not has_nul_escape(b'{"a": "\\\\u0000"}')  # an escaped backslash, then text
    assert has_nul_escape(b'{"a": "\\\\\\u0000"}')
    assert not has_nul_escape(b'{"a": "u0000"}')


def test_out_of_range_numbers_and_lengths_on_postgres_columns(tenant: Tenant) -> None:
    with tenant.client() as http:
        plan = http.post("/v1/plans", json={"name": "p", "display_order": -(10**22)})
        _flexprice_error(plan, 400)
        event = {"event_name": "e", "external_customer_id": "c", "customer_id": "0" * 41}
        _flexprice_error(http.post("/v1/events", json=event), 400)
        _flexprice_error(http.post("/v1/events/bulk", json={"events": [event]}), 400)
        assert http.post("/v1/events", json={**event, "customer_id": "0" * 40}).status_code == 202


def test_a_list_filter_past_its_bound_is_a_400(tenant: Tenant) -> None:
    # Regression (schemathesis): eleven subscription_status values were a 500 — the route
    # builds its search model inside the handler and the model's bound raised there.
    with tenant.client() as http:
        response = http.get(
            "/v1/subscriptions", params=[("subscription_status", f"s{i}") for i in range(11)]
        )
        _flexprice_error(response, 400)
        assert (
            http.get(
                "/v1/subscriptions", params=[("subscription_status", "active")] * 10
            ).status_code
            == 200
        )
