"""Fixtures of the machine licensing tests: raw HTTP on /api, and the server's database
for the tests that drive the services in-process with time injected."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterline.accounts.principal import Principal
from meterline.db.engine import Database
from meterline.settings import Settings
from tests.api.kaiten.conftest import granted_instance
from tests.conftest import Tenant


@pytest.fixture
def api(tenant: Tenant) -> Iterator[httpx.Client]:
    if "clickhouse" in tenant.server.database_url:
        pytest.skip("licensing does not touch the event store")
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def db(tenant: Tenant) -> Iterator[Database]:
    database = Database.connect(Settings(database_url=tenant.server.database_url))
    yield database
    database.dispose()


def principal_of(tenant: Tenant) -> Principal:
    return Principal("org", tenant.environment_id, "test", scopes=frozenset({"*"}))


def licensed_instance(api: httpx.Client, policy: dict[str, Any]) -> tuple[str, str]:
    """A fresh instance (its license granting one NUMBER entitlement) whose license has
    ``policy``; the instance's slug and the entitlement's (the license is ``<ent>-lic``)."""
    instance, entitlement = granted_instance(api, 10)
    response = api.put(f"/licenses/{entitlement}-lic/machine-policy", json=policy)
    assert response.status_code == 200, response.text
    return instance, entitlement


def sibling_instance(api: httpx.Client, instance: str) -> str:
    """Another instance of ``instance``'s customer under the same license."""
    found = api.get(f"/instances/{instance}").json()
    slug = f"s-{uuid.uuid4().hex[:8]}"
    response = api.post(
        "/instances",
        json={
            "name": slug,
            "slug": slug,
            "customerId": found["customerId"],
            "licenseId": found["licenseId"],
            "startLicenseDate": found["startLicenseDate"],
            "endLicenseDate": found["endLicenseDate"],
        },
    )
    assert response.status_code == 201, response.text
    return slug
