"""Fixtures of the /api tests: the official kaitencloud client bound to a fresh tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kaitencloud import KaitenClient

from tests.conftest import Tenant


@pytest.fixture
def kaiten(tenant: Tenant) -> Iterator[KaitenClient]:
    with KaitenClient(base_url=tenant.server.base_url, token=tenant.key, max_retries=0) as client:
        yield client


@pytest.fixture
def api(tenant: Tenant) -> Iterator[httpx.Client]:
    """Raw HTTP on /api with the tenant's bearer token."""
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as client:
        yield client


def mint_key(tenant: Tenant, scopes: list[str] | None = None, customer: str | None = None) -> str:
    """A key of the tenant's environment with the given scopes."""
    body: dict[str, object] = {"name": "scoped"}
    if scopes is not None:
        body["scopes"] = scopes
    if customer is not None:
        body["customer_external_id"] = customer
    with tenant.client() as http:
        response = http.post("/v1/secrets/api/keys", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"])


def granted_instance(
    api: httpx.Client, limit: int, *, aggregation: str = "SUM", overage: int = 0
) -> tuple[str, str]:
    """A fresh instance whose license (``{entitlement}-lic``) grants a NUMBER entitlement;
    its slug and the entitlement's."""
    slug = f"e-{uuid.uuid4().hex[:8]}"
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "/entitlements",
            {"name": slug, "slug": slug, "description": None, "aggregationMethod": aggregation},
        ),
        ("/licenses", {"name": slug, "slug": f"{slug}-lic", "type": "PAID"}),
        (
            f"/licenses/{slug}-lic/entitlements",
            {
                "entitlementSlug": slug,
                "value": {"type": "number", "value": limit},
                "limitCapExceededOveragePercent": overage,
            },
        ),
    ]
    for path, body in steps:
        assert api.post(path, json=body).status_code in (200, 201, 204), path
    customer = api.post("/customers", json={"name": f"{slug} customer"}).json()
    instance = api.post(
        "/instances",
        json={
            "name": slug,
            "slug": f"{slug}-inst",
            "customerId": customer["id"],
            "licenseId": api.get(f"/licenses/{slug}-lic").json()["id"],
            "startLicenseDate": "2026-01-01T00:00:00Z",
            "endLicenseDate": "2036-01-01T00:00:00Z",
        },
    )
    assert instance.status_code == 201, instance.text
    return f"{slug}-inst", slug


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The licensing API keeps its counters, reports and records in the catalog database and
    never reads the event store (nothing under licensing/ or api/kaiten/ imports metering):
    on the ClickHouse server, whose catalog is SQLite, its tests repeat the SQLite run."""
    here = str(Path(__file__).parent)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            str(item.path).startswith(here)
            and callspec
            and callspec.params.get("server") == ("clickhouse")
        ):
            item.add_marker(pytest.mark.skip(reason="the same on the ClickHouse event store"))
