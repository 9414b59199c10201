"""Route errors: an unknown route says so, a 405 carries ``Allow``, and a Kaiten body refusal
comes after authentication (401) and the content type (415).

The unknown routes are taken from the official SDK: every operation of ``flexprice`` that
Meterline does not serve must answer "Unknown route" (or 405 when the path is served with
other methods), never "X with ID … was not found" from a served template that swallowed a
route word (``api/http/route_table.py``).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator

import flexprice
import httpx
import pytest

from tests.conftest import Server, Tenant
from tests.security.conftest import platform_credential

# The Platform API takes platform credentials (ksm_...) only: a Core key there hears the
# 404 of an unknown route (api/kaiten/platform_auth.py), so these routes are probed with a
# forged and a real platform credential instead.
PLATFORM = "/api/platform/"


def _key_for(path: str, core_key: str, platform_key: str) -> str:
    return platform_key if path.startswith(PLATFORM) else core_key


_SDK_ROUTE = re.compile(r'method="(GET|POST|PUT|PATCH|DELETE)",\s*path="(/[^"]*)"')
_PARAM = re.compile(r"\{[^}]+\}")


def sdk_routes() -> set[tuple[str, str]]:
    """Every (method, /v1 template) the installed Flexprice SDK calls."""
    root = pathlib.Path(flexprice.__file__).parent
    found: set[tuple[str, str]] = set()
    for source in root.rglob("*.py"):
        for match in _SDK_ROUTE.finditer(source.read_text(encoding="utf-8")):
            found.add((match.group(1), "/v1" + match.group(2)))
    return found


def _shape(template: str) -> str:
    return _PARAM.sub("{}", template)


@pytest.fixture(scope="module")
def served(server: Server) -> dict[str, set[str]]:
    """Path shape -> methods, from the server's OpenAPI document."""
    document = httpx.get(server.base_url + "/openapi.json", timeout=30).json()
    shapes: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        shapes.setdefault(_shape(path), set()).update(m.upper() for m in operations)
    return shapes


@pytest.fixture
def http(tenant: Tenant) -> Iterator[httpx.Client]:
    with tenant.client() as client:
        yield client


def test_the_sdk_names_routes_at_all() -> None:
    routes = sdk_routes()
    assert len(routes) > 200
    assert ("GET", "/v1/prices/units") in routes


def test_every_unserved_sdk_route_is_an_unknown_route(
    http: httpx.Client, served: dict[str, set[str]]
) -> None:
    unserved = sorted(
        (method, path)
        for method, path in sdk_routes()
        if method not in served.get(_shape(path), set())
    )
    assert unserved, "the SDK calls routes Meterline does not serve"
    wrong: list[str] = []
    for method, template in unserved:
        path = _PARAM.sub("zz_unknown", template)
        response = http.request(method, path, json={} if method != "GET" else None)
        body = response.json()
        methods = served.get(_shape(template))
        if methods:
            allow = response.headers.get("allow", "")
            if response.status_code != 405 or set(allow.split(", ")) - {"HEAD"} != methods:
                wrong.append(f"{method} {path}: {response.status_code} allow={allow!r}")
        elif response.status_code != 404 or not body["message"].startswith("Unknown route"):
            wrong.append(f"{method} {path}: {response.status_code} {body.get('message')}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/workflows/search"),
        ("GET", "/v1/no-such-thing"),
        ("GET", "/api/no-such-thing"),
    ],
)
def test_unknown_route_says_so(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    assert response.status_code == 404
    text = response.text
    assert "Unknown route" in text and path in text
    assert "was not found" not in text


def test_a_route_word_is_not_an_id(http: httpx.Client) -> None:
    # /v1/prices/search is served (POST): DELETE there is 405, not "Price search not found".
    response = http.delete("/v1/prices/search")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    # A real id still reaches its route.
    missing = http.get("/v1/prices/price_does_not_exist")
    assert missing.status_code == 404
    assert "was not found" in missing.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v1/prices/abc", {"GET", "HEAD", "PUT", "DELETE"}),
        ("GET", "/v1/prices/search", {"POST"}),
        ("PUT", "/v1/events/bulk", {"POST"}),
        ("DELETE", "/api/entitlements", {"GET", "HEAD", "POST"}),
    ],
)
def test_405_lists_the_methods_of_the_path(
    http: httpx.Client, method: str, path: str, allow: set[str]
) -> None:
    response = http.request(method, path)
    assert response.status_code == 405, response.text
    assert set(response.headers["allow"].split(", ")) == allow


def test_every_served_path_answers_405_with_allow(
    http: httpx.Client, served: dict[str, set[str]]
) -> None:
    wrong: list[str] = []
    for shape, methods in sorted(served.items()):
        missing = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - methods)
        if not missing:
            continue
        path = shape.replace("{}", "zz1")
        response = http.request(missing[0], path)
        allow = set(response.headers.get("allow", "").split(", ")) - {"HEAD"}
        if response.status_code != 405 or allow != methods:
            wrong.append(f"{missing[0]} {path}: {response.status_code} allow={allow}")
    assert not wrong, "\n".join(wrong)


# --- Kaiten: 401, then 415, then the body ----------------------------------------------


@pytest.fixture(scope="module")
def kaiten_body_routes(server: Server) -> list[tuple[str, str]]:
    document = httpx.get(server.base_url + "/openapi.json", timeout=30).json()
    routes = [
        (method.upper(), _PARAM.sub("zz1", path))
        for path, operations in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert ("POST", "/api/instances/zz1/entitlements/zz1/usage") in routes  # the fast path
    return sorted(routes)


BAD_BODIES = [
    pytest.param(b"{not json", "application/json", id="malformed"),
    pytest.param(b'{"surely": "not a field", "value": []}', "application/json", id="invalid"),
    pytest.param(b"value=1", "text/plain", id="not-json"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
@pytest.mark.parametrize("key", [None, "wrong_key"], ids=["no-key", "bad-key"])
def test_kaiten_401_comes_before_the_body(
    server: Server,
    kaiten_body_routes: list[tuple[str, str]],
    body: bytes,
    content_type: str,
    key: str | None,
) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for method, path in kaiten_body_routes:
            headers = {"content-type": content_type}
            if key:
                headers["authorization"] = "Bearer " + _key_for(path, f"sk_{key}", f"ksm_{key}")
            response = client.request(method, path, content=body, headers=headers)
            if response.status_code != 401:
                wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
            elif response.headers["content-type"] != "application/problem+json":
                wrong.append(f"{method} {path}: {response.headers['content-type']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_kaiten_415_for_a_body_that_is_not_json(
    tenant: Tenant, kaiten_body_routes: list[tuple[str, str]], content_type: str
) -> None:
    ksm = platform_credential(tenant.server)["key"]
    wrong: list[str] = []
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as client:
        for method, path in kaiten_body_routes:
            key = _key_for(path, tenant.key, ksm)
            headers = {"content-type": content_type, "authorization": f"Bearer {key}"}
            response = client.request(method, path, content=b'{"value": 1}', headers=headers)
            problem = response.json()
            if response.status_code != 415 or problem.get("code") != "UNSUPPORTED_MEDIA_TYPE":
                wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_kaiten_json_body_with_a_key_is_still_validated(tenant: Tenant) -> None:
    # The ordering does not swallow the body's own refusal once the caller is known.
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as client:
        response = client.post(
            "/api/instances/zz1/entitlements/zz1/usage",
            content=b"{not json",
            headers={"content-type": "application/json", "authorization": f"Bearer {tenant.key}"},
        )
    assert response.status_code == 400
    assert response.json()["detail"] == "request body is not valid JSON"


def test_a_kaiten_405_carries_its_own_problem_type(http: httpx.Client) -> None:
    """Not the 400 type (rfc7231 6.5.1): a 405 is 6.5.5, with Allow."""
    response = http.delete("/api/instances/x/entitlements/y/usage")
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.5"
    assert (problem["status"], problem["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
