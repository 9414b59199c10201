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
from meterline.settings import Settings
from tests.conftest import Server, new_tenant
from tests.security.conftest import (
    Victim,
    mint,
    other_organization_key,
    seed_victim,
    skip_clickhouse,
)
from tests.security.probes import build_request, operations

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
OPERATIONS = operations(_SPEC)
# Organization-level resources: every key of the organization may see its environments
# and who it is (Flexprice's tenant model); another organization may not.
ORGANIZATION_LEVEL = {"/v1/environments", "/v1/environments/{env_id}", "/v1/users/me"}
# The seller's profile is the organization's too (accounts/tenants.py).
ORGANIZATION_LEVEL.add("/v1/tenants/{tenant_id}")
# Answer about the caller itself, whatever its scopes.
SELF = {("GET", "/v1/users/me")}
# The usage report is where a customer-scoped key belongs.
CUSTOMER_KEY_ROUTES = {("GET", "/v1/usage"), *SELF}
PLATFORM_PATHS = "/api/platform/"
# A connector's name names the deployment's definition, not a row of tenant A: every tenant
# reads it, and activates and configures it for itself (tenant A's activation and settings,
# which hold its secret, stay its own: the secret check still applies). Its state answers for
# any name (an unregistered one is "not available").
DEPLOYMENT_LEVEL = {
    "/api/connectors/{connectorName}",
    "/api/connectors/{connectorName}/state",
    "/api/connectors/{connectorName}/activation",
    "/api/connectors/{connectorName}/settings",
    "/api/connectors/{connectorName}/settings/schema",
}
# Reads sent as POST (OFREP evaluation, license validation): a key lacking the read scope is refused.
# Searches (POST …/search), usage queries and analytics are reads too: a read-only key may
# send them.
READ_BY_POST = {
    ("POST", "/api/ofrep/v1/evaluate/flags/{flagKey}"),
    ("POST", "/api/instances/{instanceSlug}/validate"),
    ("POST", "/api/license-files/verify"),
    ("POST", "/v1/events/usage"),
    ("POST", "/v1/forex/query"),
    ("POST", "/v1/events/usage/meter"),
    ("POST", "/v1/events/analytics"),
    ("POST", "/v1/analytics/revenue"),
    ("POST", "/v1/costs/analytics"),
    ("POST", "/v1/analytics/query"),
    ("POST", "/v1/analytics/reports/{report_key}/query"),
    ("POST", "/v1/analytics/views/{view_id}/query"),
    ("POST", "/v1/activity"),
    *(
        (m, p)
        for m, p in OPERATIONS
        if m == "POST" and p.startswith("/v1/") and p.endswith("/search")
    ),
}
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


def call(world: World, method: str, path: str, key: str | None) -> httpx.Response:
    url, body, params = build_request(world.spec, world.victim, method, path)
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
    if method != "GET" and (method, path) not in READ_BY_POST:
        return keys.read_everything
    return keys.licensing_only if path.startswith("/v1") else keys.billing_only


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_key_reaches_another_tenant(world: World, method: str, path: str) -> None:
    keys = world.keys
    has_path_ids = "{" in path

    # The Platform API answers every key of the Core API as an unknown route answers, 404,
    # and no key 401 (api/kaiten/platform_auth.py; its own credentials are
    # tests/api/kaiten/test_platform.py's).
    if path.startswith(PLATFORM_PATHS):
        for label, key in (("no key", None), ("forged platform key", "ksm_" + "A" * 43)):
            response = call(world, method, path, key)
            _refused(response, {401}, label)
            _no_secret(world, response, label)
        for label, key in (
            ("forged key", "sk_" + "A" * 43),
            ("revoked key", keys.revoked),
            ("customer-scoped key", keys.customer_scoped),
            ("key lacking the scope", _lacking_scope_key(keys, method, path)),
            ("other environment", keys.other_environment),
            ("other organization", keys.other_organization),
            ("owner", world.victim.tenant.key),
        ):
            response = call(world, method, path, key)
            _refused(response, {404}, label)
            _no_secret(world, response, label)
        return

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
        shared = shared or path in DEPLOYMENT_LEVEL
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
    assert operations(world.spec) == OPERATIONS
    assert len(OPERATIONS) >= 130
