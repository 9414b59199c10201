"""The isolation matrix: every operation of /v1 and /api in the OpenAPI document, called
with keys that must not reach tenant A — a key of another environment, of another
organization, a customer-scoped key, a revoked key, a key lacking the scope, and no or a
forged key. Path parameters hold real ids of tenant A's resources, and bodies reference
them. The answer is 401, 403 or 404 (or another 4xx for a body the schema refuses) and
never carries tenant A's data: every name tenant A gave its rows holds a secret token that
no probe ever sends, and no answer may contain it.

The operations are read from the application's OpenAPI document, so a new route is covered
the moment it is mounted; ``test_the_matrix_covers_the_served_document`` checks that the
served ``/openapi.json`` has no operation the matrix does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from meterline.app import create_app
from meterline.config import Settings
from tests.conftest import Server, new_tenant
from tests.security.conftest import (
    Victim,
    mint,
    other_organization_key,
    seed_victim,
    skip_clickhouse,
)

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in _SPEC["paths"].items()
    if path.startswith(("/v1", "/api"))
    for method in item
    if method in METHODS
)
# Organization-level resources: every key of the organization may see its environments
# and who it is (Flexprice's tenant model); another organization may not.
ORGANIZATION_LEVEL = {"/v1/environments", "/v1/environments/{env_id}", "/v1/users/me"}
# Answer about the caller itself, whatever its scopes.
SELF = {("GET", "/v1/users/me")}
# The usage report is where a customer-scoped key belongs.
CUSTOMER_KEY_ROUTES = {("GET", "/v1/usage"), *SELF}
KAITEN_ONLY_SCOPES = [
    "write:licenses",
    "write:instances",
    "write:customers",
    "write:entitlements",
]


@dataclass
class Keys:
    other_environment: str
    other_organization: str
    customer_scoped: str
    revoked: str
    read_everything: str  # read:* — lacks every write scope
    billing_only: str  # write:billing — lacks the licensing scopes
    licensing_only: str  # the four licensing write scopes — lacks billing


@dataclass
class World:
    server: Server
    victim: Victim
    keys: Keys
    spec: dict[str, Any]
    http: httpx.Client


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    skip_clickhouse(server)
    victim = seed_victim(server)
    tenant = victim.tenant
    revoked, revoked_id = mint(tenant)
    with tenant.client() as http:
        assert http.delete(f"/v1/secrets/api/keys/{revoked_id}").status_code == 204
    # The customer key belongs to a bystander customer of tenant A, not the target one.
    with tenant.client() as http:
        assert (
            http.post(
                "/v1/customers", json={"external_id": "bystander", "name": "Bystander"}
            ).status_code
            == 201
        )
    keys = Keys(
        other_environment=new_tenant(server).key,
        other_organization=other_organization_key(server),
        customer_scoped=mint(tenant, customer_external_id="bystander")[0],
        revoked=revoked,
        read_everything=mint(tenant, scopes=["read:*"])[0],
        billing_only=mint(tenant, scopes=["write:billing"])[0],
        licensing_only=mint(tenant, scopes=KAITEN_ONLY_SCOPES)[0],
    )
    spec = httpx.get(server.base_url + "/openapi.json").json()
    with httpx.Client(base_url=server.base_url, timeout=30) as http:  # one kept-alive connection
        yield World(server=server, victim=victim, keys=keys, spec=spec, http=http)


# --- building a request ------------------------------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _minimal(spec: dict[str, Any], schema: dict[str, Any], name: str, victim: Victim) -> Any:
    """A small value the schema allows; fields naming tenant A's rows get their real ids."""
    if name in victim.body_ids:
        return victim.body_ids[name]
    if name.endswith("_ids") and name[:-1] in victim.body_ids:
        return [victim.body_ids[name[:-1]]]
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return _minimal(spec, options[0], name, victim) if options else None
    if "allOf" in schema:
        return _minimal(spec, schema["allOf"][0], name, victim)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        body = {}
        for prop, sub in properties.items():
            wanted = prop in schema.get("required", ()) or prop in victim.body_ids
            if wanted:
                body[prop] = _minimal(spec, sub, prop, victim)
        return body
    if kind == "array":
        if schema.get("minItems", 0) > 0:
            return [_minimal(spec, schema.get("items", {}), name, victim)]
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time" or name.endswith(("Date", "_date", "_at")):
        return "2026-01-01T00:00:00Z"
    if schema.get("pattern"):
        return "probe-x1"
    return "probe"


def _path_value(path: str, param: str, victim: Victim) -> str:
    if param == "lookup_key":
        return victim.path_ids[
            "price_lookup_key" if path.startswith("/v1/prices") else "external_id"
        ]
    # A parameter no seeded row fills (a route newer than this file) gets an id that
    # exists nowhere: the matrix still checks every refusal, only the owner control skips it.
    return victim.path_ids.get(param, f"unseeded-{param}")


def build_request(world: World, method: str, path: str) -> tuple[str, Any, dict[str, str]]:
    operation = world.spec["paths"][path][method.lower()]
    url = re.sub(r"\{(\w+)\}", lambda m: _path_value(path, m.group(1), world.victim), path)
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter.get("in") != "query":
            continue
        if name in world.victim.body_ids or parameter.get("required"):
            params[name] = _minimal(world.spec, parameter.get("schema", {}), name, world.victim)
    body = None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _minimal(world.spec, content["application/json"]["schema"], "", world.victim)
    return url, body, params


def call(world: World, method: str, path: str, key: str | None) -> httpx.Response:
    url, body, params = build_request(world, method, path)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return world.http.request(
        method,
        url,
        json=body,
        params=params,
        headers=headers,
        timeout=30,
    )


# --- the matrix ------------------------------------------------------------------------


def _refused(response: httpx.Response, allowed: set[int], what: str) -> None:
    assert response.status_code in allowed, (what, response.status_code, response.text[:300])


def _no_secret(world: World, response: httpx.Response, what: str) -> None:
    assert world.victim.secret.lower() not in response.text.lower(), (what, response.text[:500])


def _lacking_scope_key(keys: Keys, method: str, path: str) -> str:
    if method != "GET":
        return keys.read_everything
    return keys.licensing_only if path.startswith("/v1") else keys.billing_only


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_key_reaches_another_tenant(world: World, method: str, path: str) -> None:
    keys = world.keys
    has_path_ids = "{" in path

    # Without a valid key: 401, always.
    for label, key in (
        ("no key", None),
        ("forged key", "sk_" + "A" * 43),
        ("revoked key", keys.revoked),
    ):
        response = call(world, method, path, key)
        _refused(response, {401}, label)
        _no_secret(world, response, label)

    # A key scoped to one customer reads its own usage and nothing else.
    response = call(world, method, path, keys.customer_scoped)
    if (method, path) not in CUSTOMER_KEY_ROUTES:
        _refused(response, {403}, "customer-scoped key")
    _no_secret(world, response, "customer-scoped key")

    # A key of tenant A without the scope the operation needs.
    response = call(world, method, path, _lacking_scope_key(keys, method, path))
    if (method, path) not in SELF:
        _refused(response, {403}, "key lacking the scope")
    _no_secret(world, response, "key lacking the scope")

    # Keys of other tenants: tenant A's rows do not exist for them.
    for label, key in (
        ("other environment", keys.other_environment),
        ("other organization", keys.other_organization),
    ):
        response = call(world, method, path, key)
        assert response.status_code < 500, (label, response.text[:300])
        _no_secret(world, response, label)
        shared = label == "other environment" and path in ORGANIZATION_LEVEL
        if has_path_ids and not shared:
            if method in ("GET", "DELETE"):
                _refused(response, {404}, label)
            else:  # a body the rules refuse may be answered before the lookup
                _refused(response, {400, 404, 409, 422}, label)


def test_the_owner_reads_every_seeded_row(world: World) -> None:
    """Control: the ids the matrix uses are real, so its 404s mean something."""
    for method, path in OPERATIONS:
        params = re.findall(r"\{(\w+)\}", path)
        if method != "GET" or not params:
            continue
        if not all(p in world.victim.path_ids or p == "lookup_key" for p in params):
            continue
        response = call(world, method, path, world.victim.tenant.key)
        assert response.status_code == 200, (path, response.text[:300])


def test_the_matrix_covers_the_served_document(world: World) -> None:
    served = sorted(
        (method.upper(), path)
        for path, item in world.spec["paths"].items()
        if path.startswith(("/v1", "/api"))
        for method in item
        if method in METHODS
    )
    assert served == OPERATIONS
    assert len(OPERATIONS) >= 130
