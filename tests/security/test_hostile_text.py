"""Hostile text on every operation of the OpenAPI document: a lone UTF-16 surrogate escape
in a body, a surrogate encoded as UTF-8 (``%ED%A0%80``, invalid UTF-8) in a query string
or path, and JSON nested 100,000 deep are each a 400 in the dialect of the path, on every
route (the fast paths included), with a valid key and without one.

Regressions: the surrogate was a 500 on 19 operations (no database stores it), the deep
document a 500 on the checks' shortcut (a recursive parser ran out of stack).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.app import create_app
from meterline.settings import Settings
from tests.conftest import Server, Tenant, unique
from tests.security.conftest import platform_credential

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = sorted(
    (method.upper(), path, "requestBody" in item[method])
    for path, item in _SPEC["paths"].items()
    if path.startswith(("/v1", "/api"))
    for method in item
    if method in METHODS
)
WITH_BODY = [(method, path) for method, path, body in OPERATIONS if body]
HOT_PATHS = {
    ("POST", "/v1/entitlements/check"),
    ("POST", "/v1/events/bulk"),
    ("POST", "/api/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage"),
}
LONE_SURROGATES = [
    b'{"name": "\\ud800"}',  # a high half alone
    b'{"name": "a\\uDC00b"}',  # a low half alone
    b'{"name": "\\ud83d\\u0041"}',  # a high half before something else
    b'{"events": [{"event_name": "e", "external_customer_id": "\\udfff"}]}',
]
DEEP = b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
UTF8_SURROGATE = "%ED%A0%80"


def _concrete(path: str, value: str = "x") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def dialect_error(response: httpx.Response, status: int) -> str | None:
    """Why ``response`` is not a ``status`` error in its path's dialect (None: it is)."""
    if response.status_code != status:
        return f"{response.status_code} {response.text[:160]}"
    path = response.request.url.path
    body: Any = response.json()
    if path.startswith("/api/"):
        ok = (
            response.headers["content-type"] == "application/problem+json"
            and body.get("status") == status
            and "detail" in body
        )
    elif path.rstrip("/") == "/v1/usage":
        ok = set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    else:
        ok = body.get("http_status_code") == status and "code" in body and "message" in body
    return None if ok else f"not the dialect's shape: {response.text[:160]}"


@pytest.fixture(scope="module")
def ksm(server: Server) -> str:
    """A platform credential: the key of the /api/platform routes."""
    return str(platform_credential(server)["key"])


def _headers(tenant: Tenant, path: str, ksm: str) -> dict[str, str]:
    if path.startswith("/api/platform/"):
        return {"Authorization": f"Bearer {ksm}", "content-type": "application/json"}
    if path.startswith("/api/") or path.rstrip("/") == "/v1/usage":
        return {"Authorization": f"Bearer {tenant.key}", "content-type": "application/json"}
    return {"x-api-key": tenant.key, "content-type": "application/json"}


def _sweep(tenant: Tenant, ksm: str, requests: list[tuple[str, str, bytes | None]]) -> list[str]:
    failures = []
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as http:
        for method, url, content in requests:
            for headers in (_headers(tenant, url, ksm), {"content-type": "application/json"}):
                response = http.request(method, url, content=content, headers=headers)
                # A Kaiten request with a body is answered 401 before anything is said about
                # it (Kaiten's contract: 401 before body validation); the other dialects, and
                # Kaiten requests without a body, are refused first, before the key is read.
                keyless_kaiten = (
                    content is not None and url.startswith("/api/") and len(headers) == 1
                )
                problem = dialect_error(response, 401 if keyless_kaiten else 400)
                if problem is not None:
                    failures.append(f"{method} {url}: {problem}")
    return failures


def test_the_sweep_covers_the_hot_paths() -> None:
    assert set(WITH_BODY) >= HOT_PATHS
    assert len(OPERATIONS) > 100


def test_a_lone_surrogate_escape_in_any_body_is_a_400(tenant: Tenant, ksm: str) -> None:
    requests = [
        (method, _concrete(path), body)
        for method, path in WITH_BODY
        for body in (LONE_SURROGATES if (method, path) in HOT_PATHS else LONE_SURROGATES[:1])
    ]
    assert _sweep(tenant, ksm, requests) == []


def test_a_valid_surrogate_pair_and_escaped_backslashes_are_text(tenant: Tenant) -> None:
    with tenant.client() as http:
        pair = http.post(
            "/v1/customers",
            content=b'{"external_id": "%s", "name": "\\\\ud800 \\ud83d\\ude00"}'
            % unique("pair").encode(),
            headers={"content-type": "application/json"},
        )
        assert pair.status_code == 201, pair.text
        assert pair.json()["name"] == "\\ud800 \U0001f600"


def test_a_surrogate_encoded_in_a_query_or_path_is_a_400(tenant: Tenant, ksm: str) -> None:
    requests: list[tuple[str, str, bytes | None]] = []
    for method, path, has_body in OPERATIONS:
        content = b"{}" if has_body else None
        requests.append((method, f"{_concrete(path)}?q={UTF8_SURROGATE}", content))
        if "{" in path:
            requests.append((method, _concrete(path, "a" + UTF8_SURROGATE), content))
    assert _sweep(tenant, ksm, requests) == []


def test_json_nested_100000_deep_is_a_400_on_every_route(tenant: Tenant, ksm: str) -> None:
    requests = [(method, _concrete(path), DEEP) for method, path in WITH_BODY]
    mixed = b"[" + b'{"a":[' * 50_000 + b"1" + b"]}" * 50_000 + b"]"
    unclosed = b'{"customer_id": "c", "feature_id": ' + b"[" * 100_000
    requests += [("POST", "/v1/entitlements/check", mixed), ("POST", "/v1/events", unclosed)]
    assert _sweep(tenant, ksm, requests) == []


@pytest.mark.parametrize(
    ("depth", "status"), [(128, 400), (129, 400)], ids=["at-the-bound", "past-the-bound"]
)
def test_the_depth_bound_is_128_levels(tenant: Tenant, depth: int, status: int) -> None:
    body = b'{"name": "n", "external_id": "e", "metadata": ' + b"[" * (depth - 1)
    body += b"]" * (depth - 1) + b"}"
    with tenant.client() as http:
        response = http.post("/v1/customers", content=body)
    assert dialect_error(response, status) is None
    if depth > 128:
        assert "deeper than 128" in response.text
    else:
        assert "deeper" not in response.text  # refused by the schema, not by the bound


def test_guards_unit() -> None:
    from meterline.api.http.guards import deeper_than, has_lone_surrogate

    assert has_lone_surrogate(b'"\\ud800"')
    assert has_lone_surrogate(b'"\\udc00\\ud800"')  # a low half before a high one
    assert not has_lone_surrogate(b'"\\ud800\\udc00"')
    assert not has_lone_surrogate(b'"\\\\ud800"')  # an escaped backslash, then text
    assert has_lone_surrogate(b'"\\\\\\ud800"')
    assert deeper_than(b"[" * 129 + b"]" * 129, 128)
    assert not deeper_than(b"[" * 128 + b"]" * 128, 128)
    assert not deeper_than(b"[" + b"[]," * 500 + b"[]]", 128)
    # Brackets inside strings do not count, and cannot hide real ones either.
    assert not deeper_than(b'["' + b"[" * 500 + b'"]', 128)
    assert deeper_than(b'["]",' * 200 + b"1" + b"]" * 200, 128)
    assert deeper_than(b'[{"a\\"]": ' * 200 + b"1" + b"}]" * 200, 128)
    assert deeper_than(b"{" * 200, 128)  # never closed: a parser still recurses


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_TRICKY_TEXT = st.text(alphabet='[]{}"\\ab', max_size=6)
_DOCUMENTS = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_TEXT, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(document=_DOCUMENTS, bound=st.integers(min_value=0, max_value=12))
def test_the_depth_guard_equals_the_parsed_depth(document: object, bound: int) -> None:
    from meterline.api.http.guards import deeper_than

    text = json.dumps(document).encode()
    assert deeper_than(text, bound) == (_depth(document) > bound), text
