"""The core methods the flow tests leave out, driven by the official SDK, sync and async:
customer get/update, entitlement updates and deletes, entitlement groups, instance
replacement, license families, license deletes and grant changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from kaitencloud import AsyncKaitenClient, KaitenClient, NotFoundError

from tests.api.kaiten.test_sdk_flow import _setup
from tests.conftest import Tenant

START = datetime(2026, 1, 1, tzinfo=UTC)


def _instance(kaiten: KaitenClient) -> tuple[str, str]:
    """The flow tests' catalog: the ``acme-prod`` instance of customer ``acme`` on ``growth``."""
    _setup(kaiten)
    return kaiten.customers.get("acme").id, kaiten.licenses.get("growth").id


def test_customers_get_and_update(kaiten: KaitenClient) -> None:
    kaiten.customers.create(name="Acme", slug="acme", external_customer_id="crm-1")
    got = kaiten.customers.get("acme")
    assert (got.name, got.external_customer_id, got.domain) == ("Acme", "crm-1", None)
    kaiten.customers.update("acme", name="Acme Inc", domain="acme.com")
    got = kaiten.customers.get("acme")
    # A full replacement: the left-out external id is cleared on this view.
    assert (got.name, got.external_customer_id, got.domain) == ("Acme Inc", None, "acme.com")
    with pytest.raises(NotFoundError):
        kaiten.customers.get("nobody")


def test_entitlements_update_and_delete(kaiten: KaitenClient) -> None:
    kaiten.entitlements.create(name="Calls", slug="calls", type="NUMBER", description="x")
    kaiten.entitlements.update(
        "calls",
        name="API calls",
        type="NUMBER",
        description="per month",
        unit_singular="call",
        unit_plural="calls",
    )
    got = kaiten.entitlements.get("calls")
    assert (got.name, got.description) == ("API calls", "per month")
    kaiten.entitlements.delete("calls")
    with pytest.raises(NotFoundError):
        kaiten.entitlements.get("calls")


def test_entitlement_groups_and_their_usage(kaiten: KaitenClient) -> None:
    _instance(kaiten)
    group = kaiten.entitlement_groups.create(name="Quotas", slug="quotas", description="d")
    assert (group.slug, group.name, group.description) == ("quotas", "Quotas", "d")
    kaiten.entitlement_groups.update("quotas", name="AI quotas")
    assert kaiten.entitlement_groups.get("quotas").name == "AI quotas"
    assert [g.slug for g in kaiten.entitlement_groups.list()] == ["quotas"]
    kaiten.entitlement_groups.add_entitlement("quotas", "seats")
    kaiten.instances.report_usage("acme-prod", "seats", 2)
    usage = kaiten.entitlement_groups.get_usage("quotas", "acme-prod")
    assert [(u.entitlement_slug, u.usage_value and u.usage_value.value) for u in usage] == [
        ("seats", 2)
    ]
    kaiten.entitlement_groups.remove_entitlement("quotas", "seats")
    assert kaiten.entitlement_groups.get_usage("quotas", "acme-prod") == []
    kaiten.entitlement_groups.delete("quotas")
    with pytest.raises(NotFoundError):
        kaiten.entitlement_groups.get("quotas")


def test_instance_update_replaces_its_details(kaiten: KaitenClient) -> None:
    customer_id, license_id = _instance(kaiten)
    kaiten.instances.update(
        "acme-prod",
        name="Acme production",
        customer_id=customer_id,
        license_id=license_id,
        start_license_date=START,
        end_license_date=datetime(2031, 1, 1, tzinfo=UTC),
        description="eu",
        metadata={"region": "eu"},
    )
    got = kaiten.instances.get("acme-prod")
    assert (got.name, got.description) == ("Acme production", "eu")
    assert got.end_license_date == datetime(2031, 1, 1, tzinfo=UTC)


def test_license_families_grant_changes_and_deletes(kaiten: KaitenClient) -> None:
    kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
    kaiten.licenses.create(name="Team", slug="team", type="PAID")
    kaiten.licenses.associate_entitlement("team", "seats", 5)
    kaiten.licenses.update_entitlement("team", "seats", 8, overage_percent=10)
    grant = kaiten.licenses.get_entitlement("team", "seats")
    assert (grant.value.value, grant.limit_cap_exceeded_overage_percent) == (8, 10)
    families = kaiten.license_families.list()
    assert len(families) == 1
    assert families[0].current_version is not None
    kaiten.licenses.delete("team")
    with pytest.raises(NotFoundError):
        kaiten.licenses.get("team")
    assert kaiten.license_families.list() == []


def test_the_async_client_drives_the_same_core(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as kaiten:
            await kaiten.customers.create(name="Beta", slug="beta")
            await kaiten.customers.update("beta", name="Beta GmbH", domain="beta.de")
            got = await kaiten.customers.get("beta")
            assert (got.name, got.domain) == ("Beta GmbH", "beta.de")
            await kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
            group = await kaiten.entitlement_groups.create(name="G", slug="gg")
            await kaiten.entitlement_groups.add_entitlement(group.slug or "gg", "seats")
            assert [g.slug for g in await kaiten.entitlement_groups.list()] == ["gg"]
            await kaiten.entitlement_groups.delete("gg")
            with pytest.raises(NotFoundError):
                await kaiten.entitlement_groups.get("gg")

    asyncio.run(flow())
