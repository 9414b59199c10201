"""Fixtures of the /api tests: the official kaitencloud client bound to a fresh tenant."""

from __future__ import annotations

from collections.abc import Iterator

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
