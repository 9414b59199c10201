"""Deployment zones through the official SDK, and an instance's deploymentZoneId."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenClient,
    ConflictError,
    KaitenClient,
    NotFoundError,
    UnprocessableEntityError,
)

from tests.conftest import Tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)


def _instance(kaiten: KaitenClient, slug: str, zone_id: str | None) -> None:
    customer = kaiten.customers.create(name=f"{slug} customer", slug=f"{slug}-c")
    license_ = kaiten.licenses.create(name=f"{slug} license", slug=f"{slug}-l", type="PAID")
    kaiten.instances.create(
        name=slug,
        slug=slug,
        customer_id=customer.id,
        license_id=license_.id,
        start_license_date=START,
        end_license_date=END,
        deployment_zone_id=zone_id,
    )


def test_zone_crud(kaiten: KaitenClient) -> None:
    assert kaiten.deployment_zones.list() == []
    zone = kaiten.deployment_zones.create(
        name="AWS eu-west-1", type="production", description="Dublin", metadata={"k": "v"}
    )
    assert (zone.slug, zone.name, zone.type, zone.description) == (
        "aws-eu-west-1",
        "AWS eu-west-1",
        "production",
        "Dublin",
    )
    assert zone.metadata == {"k": "v"}
    assert zone.release_id is None
    assert len(zone.id) == 36  # a UUID on the wire
    staging = kaiten.deployment_zones.create(name="Staging", type="staging", slug="stg")
    assert [z.slug for z in kaiten.deployment_zones.list()] == ["aws-eu-west-1", "stg"]

    release = kaiten.releases.create(version="v1.0.0")
    kaiten.deployment_zones.update(
        "stg", name="Staging 2", type="development", release_id=release.id
    )
    again = kaiten.deployment_zones.get("stg")
    assert (again.id, again.name, again.type, again.description) == (
        staging.id,
        "Staging 2",
        "development",
        "",
    )
    assert again.release_id == release.id
    assert again.metadata is None
    # A full replacement: the release left out is cleared.
    kaiten.deployment_zones.update("stg", name="Staging 2", type="development")
    assert kaiten.deployment_zones.get("stg").release_id is None

    with pytest.raises(ConflictError):
        kaiten.deployment_zones.create(name="dup", type="x", slug="stg")
    kaiten.deployment_zones.delete("stg")
    with pytest.raises(NotFoundError):
        kaiten.deployment_zones.get("stg")
    with pytest.raises(NotFoundError):
        kaiten.deployment_zones.delete("stg")
    with pytest.raises(NotFoundError):
        kaiten.deployment_zones.update("stg", name="n", type="t")


def test_zone_errors(kaiten: KaitenClient, api: httpx.Client) -> None:
    with pytest.raises(NotFoundError):
        kaiten.deployment_zones.create(
            name="z", type="production", release_id="00000000-0000-0000-0000-000000000000"
        )
    with pytest.raises(NotFoundError):
        kaiten.deployment_zones.create(name="z", type="production", release_id="nonsense")
    refused = api.post("/deployment-zones", json={"name": "z", "type": "t", "color": "red"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["location"] == "body.color"
    missing = api.post("/deployment-zones", json={"name": "z"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["location"] == "body.type"
    too_long = api.post("/deployment-zones", json={"name": "z" * 256, "type": "t"})
    assert too_long.status_code == 422
    assert api.get("/deployment-zones?limit=201").status_code == 422


def test_instance_deployment_zone(kaiten: KaitenClient) -> None:
    zone = kaiten.deployment_zones.create(name="Prod", type="production", slug="prod")
    _instance(kaiten, "acme-prod", zone.id)
    instance = kaiten.instances.get("acme-prod")
    assert (instance.deployment_zone_id, instance.deployment_zone_slug) == (zone.id, "prod")
    assert kaiten.instances.list()[0].deployment_zone_slug == "prod"

    other = kaiten.deployment_zones.create(name="Other", type="staging", slug="other")
    kaiten.instances.update(
        "acme-prod",
        name="acme-prod",
        customer_id=instance.customer_id,
        license_id=instance.license_id,
        start_license_date=START,
        end_license_date=END,
        deployment_zone_id=other.id,
    )
    assert kaiten.instances.get("acme-prod").deployment_zone_slug == "other"
    # An omitted zone keeps the current one.
    kaiten.instances.update(
        "acme-prod",
        name="renamed",
        customer_id=instance.customer_id,
        license_id=instance.license_id,
        start_license_date=START,
        end_license_date=END,
    )
    kept = kaiten.instances.get("acme-prod")
    assert (kept.name, kept.deployment_zone_id) == ("renamed", other.id)

    with pytest.raises(ConflictError):
        kaiten.deployment_zones.delete("other")
    kaiten.deployment_zones.delete("prod")  # no instance there any more
    with pytest.raises(NotFoundError):
        _instance(kaiten, "nowhere", "11111111-1111-1111-1111-111111111111")


def test_zone_metadata_is_validated(kaiten: KaitenClient) -> None:
    kaiten.metadata_fields.create(
        resource_type="DEPLOYMENT_ZONE",
        key="region",
        label="Region",
        json_schema={"type": "string", "enum": ["eu", "us"]},
    )
    kaiten.deployment_zones.create(name="EU", type="production", metadata={"region": "eu"})
    with pytest.raises(UnprocessableEntityError) as bad:
        kaiten.deployment_zones.create(name="Mars", type="production", metadata={"region": "mars"})
    assert "metadata.region" in str(bad.value.problem)


def test_async_zone_flow(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            created = await client.deployment_zones.create(name="Async", type="staging")
            await client.deployment_zones.update(created.slug or "", name="Async 2", type="qa")
            got = await client.deployment_zones.get(created.slug or "")
            assert (got.name, got.type) == ("Async 2", "qa")
            assert [z.id for z in await client.deployment_zones.list()] == [created.id]
            await client.deployment_zones.delete(created.slug or "")
            assert await client.deployment_zones.list() == []

    asyncio.run(flow())
