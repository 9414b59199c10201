"""The async client (``AsyncKaitenClient``, ``AsyncKaitenPlatformClient``) over real HTTP:
every SDK method is awaited by some test, as ``test_sdk_methods.py`` counts the sync ones.
This file drives the licensing core the other files drive only synchronously, and
``test_every_sdk_method_is_awaited_by_a_test`` keeps the count whole."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

import pytest
from kaitencloud import (
    UNLIMITED,
    AsyncKaitenClient,
    AsyncKaitenPlatformClient,
    NotFoundError,
    ThresholdExceededError,
)

from tests.api.kaiten.test_sdk_methods import HERE, sdk_methods
from tests.conftest import Tenant
from tests.security.conftest import platform_credential

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)


def awaited() -> set[str]:
    """``resource.method`` (and ``platform.…``) of every ``await x.resource.method(`` in the
    /api tests."""
    source = "\n".join(path.read_text() for path in HERE.glob("test_*.py"))
    calls = {f"{r}.{m}" for r, m in re.findall(r"await\s+[a-z_]+\.([a-z_]+)\.([a-z_]+)\(", source)}
    calls |= {f"platform.{call}" for call in calls}
    if re.search(r"await\s+[a-z_]+\.me\(\)", source):
        calls.add("platform.me")
    return calls


def test_every_sdk_method_is_awaited_by_a_test() -> None:
    assert sorted(sdk_methods() - awaited()) == []


async def _licensing_core(kaiten: AsyncKaitenClient) -> None:
    await kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
    await kaiten.entitlements.create(name="Calls", slug="calls", type="NUMBER")
    await kaiten.entitlements.update("seats", name="Seats (named)", aggregation_method="SUM")
    assert (await kaiten.entitlements.get("seats")).name == "Seats (named)"
    assert [e.slug for e in await kaiten.entitlements.list()] == ["seats", "calls"]

    await kaiten.licenses.create(name="Growth", slug="growth", type="PAID")
    await kaiten.licenses.associate_entitlement("growth", "seats", 2)
    await kaiten.licenses.associate_entitlement("growth", "calls", UNLIMITED)
    await kaiten.licenses.update_entitlement("growth", "seats", 3, overage_percent=0)
    grant = await kaiten.licenses.get_entitlement("growth", "seats")
    assert grant.value.value == 3
    assert len(await kaiten.licenses.list_entitlements("growth")) == 2
    await kaiten.licenses.update("growth", name="Growth plan", type="PAID")
    license_ = await kaiten.licenses.get("growth")
    assert license_.name == "Growth plan"
    assert [x.slug for x in await kaiten.licenses.list()] == ["growth"]
    family = await kaiten.license_families.get("growth")
    assert family.version_count == 1
    assert [f.slug for f in await kaiten.license_families.list()] == ["growth"]

    draft = await kaiten.licenses.create(
        name="Growth", type="PAID", family_slug="growth", lifecycle_state="DRAFT"
    )
    assert draft.slug is not None
    assert (await kaiten.licenses.publish(draft.slug)).lifecycle_state == "PUBLISHED"
    assert (await kaiten.licenses.archive(draft.slug)).lifecycle_state == "ARCHIVED"
    assert (await kaiten.licenses.unarchive(draft.slug)).lifecycle_state == "PUBLISHED"

    customer = await kaiten.customers.create(name="Acme", slug="acme")
    await kaiten.instances.create(
        name="Acme prod",
        slug="acme-prod",
        customer_id=customer.id,
        license_id=license_.id,
        start_license_date=START,
        end_license_date=END,
    )
    await kaiten.instances.update(
        "acme-prod",
        name="Acme production",
        customer_id=customer.id,
        license_id=license_.id,
        start_license_date=START,
        end_license_date=END,
    )
    await kaiten.instances.update_lifecycle_stage("acme-prod", "TRIAL")
    instance = await kaiten.instances.get("acme-prod")
    assert (instance.name, instance.lifecycle_stage) == ("Acme production", "TRIAL")
    assert [i.slug for i in await kaiten.instances.list()] == ["acme-prod"]

    for expected in (1, 2, 3):
        reported = await kaiten.instances.report_usage("acme-prod", "seats", 1)
        assert reported.value.value == expected
    with pytest.raises(ThresholdExceededError):
        await kaiten.instances.report_usage("acme-prod", "seats", 1)
    assert (await kaiten.instances.get_usage("acme-prod", "seats")).value.value == 3
    rows = {u.entitlement_slug for u in await kaiten.instances.list_usage("acme-prod")}
    assert rows == {"seats", "calls"}

    group = await kaiten.entitlement_groups.create(name="Quotas", slug="quotas")
    await kaiten.entitlement_groups.update(group.slug or "quotas", name="All quotas")
    await kaiten.entitlement_groups.add_entitlement("quotas", "seats")
    usage = await kaiten.entitlement_groups.get_usage("quotas", "acme-prod")
    assert [u.entitlement_slug for u in usage] == ["seats"]
    await kaiten.entitlement_groups.remove_entitlement("quotas", "seats")
    assert await kaiten.entitlement_groups.get_usage("quotas", "acme-prod") == []

    await kaiten.instances.delete("acme-prod")
    with pytest.raises(NotFoundError):
        await kaiten.instances.get("acme-prod")
    await kaiten.licenses.delete_entitlement("growth", "calls")
    await kaiten.entitlements.delete("calls")
    await kaiten.customers.delete("acme")
    assert await kaiten.customers.list() == []
    await kaiten.licenses.delete(draft.slug)
    with pytest.raises(NotFoundError):
        await kaiten.licenses.get(draft.slug)


async def _metadata_field(kaiten: AsyncKaitenClient) -> None:
    schema = {"type": "string", "maxLength": 20}
    created = await kaiten.metadata_fields.create(
        resource_type="INSTANCE", key="region", label="Region", json_schema=schema
    )
    updated = await kaiten.metadata_fields.update(
        created.id, resource_type="INSTANCE", key="region", label="Where", json_schema=schema
    )
    assert (updated.id, updated.label) == (created.id, "Where")


def test_the_async_client_drives_the_licensing_core(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as kaiten:
            await _licensing_core(kaiten)
            await _metadata_field(kaiten)

    asyncio.run(flow())


def test_the_async_platform_client_registers_a_connector(tenant: Tenant) -> None:
    ksm = platform_credential(tenant.server)["key"]
    name = f"kaiten.integration.async.c{uuid.uuid4().hex[:8]}"

    async def flow() -> None:
        async with AsyncKaitenPlatformClient(
            base_url=tenant.server.base_url, token=ksm, max_retries=0
        ) as platform:
            registered = await platform.connectors.register(name=name, version="0.1.0")
            assert (registered.name, registered.version) == (name, "0.1.0")
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as kaiten:
            assert (await kaiten.connectors.get(name)).version == "0.1.0"

    asyncio.run(flow())
