"""Metadata fields through the official SDK: typed fields that validate instance and
deployment-zone metadata, with a dry run of a stricter schema."""

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
REGION = {"type": "string", "enum": ["eu", "us", "ap"]}


def _instance(kaiten: KaitenClient, slug: str, metadata: dict[str, object]) -> None:
    customer = kaiten.customers.create(name=f"{slug} customer", slug=f"{slug}-c")
    license_ = kaiten.licenses.create(name=f"{slug} license", slug=f"{slug}-l", type="PAID")
    kaiten.instances.create(
        name=slug,
        slug=slug,
        customer_id=customer.id,
        license_id=license_.id,
        start_license_date=START,
        end_license_date=END,
        metadata=metadata,
    )


def test_create_list_update_archive_unarchive(kaiten: KaitenClient, api: httpx.Client) -> None:
    assert kaiten.metadata_fields.list("INSTANCE") == []
    region = kaiten.metadata_fields.create(
        resource_type="INSTANCE", key="region", label="Region", json_schema=REGION
    )
    assert (region.resource_type, region.key, region.label) == ("INSTANCE", "region", "Region")
    assert region.json_schema == REGION and region.archived_at is None
    tier = kaiten.metadata_fields.create(
        resource_type="INSTANCE",
        key="tier",
        label="Tier",
        json_schema={"type": "integer", "minimum": 1},
        display_order=0,
    )
    zone_field = kaiten.metadata_fields.create(
        resource_type="DEPLOYMENT_ZONE", key="region", label="Zone region", json_schema=REGION
    )
    # Ordered fields first, then the others oldest first; each resource type apart.
    assert [f.id for f in kaiten.metadata_fields.list("INSTANCE")] == [tier.id, region.id]
    assert [f.id for f in kaiten.metadata_fields.list("DEPLOYMENT_ZONE")] == [zone_field.id]

    kaiten.metadata_fields.reorder([region.id, tier.id])
    twice = api.post("/metadata-fields/reorder", json={"ids": [tier.id, tier.id]})
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["location"] == "body.ids"
    listed = kaiten.metadata_fields.list("INSTANCE")
    assert [(f.id, f.display_order) for f in listed] == [(region.id, 0), (tier.id, 1)]

    updated = kaiten.metadata_fields.update(
        region.id,
        resource_type="INSTANCE",
        key="region",
        label="Cloud region",
        json_schema={"type": "string"},
    )
    assert (updated.label, updated.json_schema) == ("Cloud region", {"type": "string"})
    with pytest.raises(UnprocessableEntityError) as renamed:
        kaiten.metadata_fields.update(
            region.id, resource_type="INSTANCE", key="area", label="x", json_schema={}
        )
    assert renamed.value.problem is not None
    assert "key" in (renamed.value.problem.detail or "")
    with pytest.raises(UnprocessableEntityError):
        kaiten.metadata_fields.update(
            region.id, resource_type="DEPLOYMENT_ZONE", key="region", label="x", json_schema={}
        )

    with pytest.raises(ConflictError):  # the key is taken among active INSTANCE fields
        kaiten.metadata_fields.create(
            resource_type="INSTANCE", key="region", label="again", json_schema={}
        )
    archived = kaiten.metadata_fields.archive(region.id)
    assert archived.archived_at is not None
    with pytest.raises(ConflictError):
        kaiten.metadata_fields.archive(region.id)
    replacement = kaiten.metadata_fields.create(
        resource_type="INSTANCE", key="region", label="New region", json_schema=REGION
    )
    with pytest.raises(ConflictError):  # its key is taken again
        kaiten.metadata_fields.unarchive(region.id)
    kaiten.metadata_fields.archive(replacement.id)
    restored = kaiten.metadata_fields.unarchive(region.id)
    assert restored.archived_at is None and restored.label == "Cloud region"
    with pytest.raises(ConflictError):
        kaiten.metadata_fields.unarchive(region.id)
    assert {f.id for f in kaiten.metadata_fields.list("INSTANCE")} == {
        region.id,
        tier.id,
        replacement.id,
    }


def test_errors(kaiten: KaitenClient, api: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(NotFoundError):
        kaiten.metadata_fields.archive(missing)
    with pytest.raises(NotFoundError):
        kaiten.metadata_fields.unarchive("not-an-id")
    with pytest.raises(NotFoundError):
        kaiten.metadata_fields.dry_run(missing, {"type": "string"})
    with pytest.raises(NotFoundError):
        kaiten.metadata_fields.reorder([missing])
    with pytest.raises(NotFoundError):
        kaiten.metadata_fields.update(
            missing, resource_type="INSTANCE", key="k", label="l", json_schema={}
        )
    no_type = api.get("/metadata-fields")
    assert no_type.status_code == 422
    assert no_type.json()["errors"][0]["location"] == "query.resourceType"
    assert api.get("/metadata-fields?resourceType=CUSTOMER").status_code == 422
    bad_schema = api.post(
        "/metadata-fields",
        json={
            "resourceType": "INSTANCE",
            "key": "k",
            "label": "K",
            "jsonSchema": {"type": "no-such-type"},
        },
    )
    assert bad_schema.status_code == 422, bad_schema.text
    assert bad_schema.json()["errors"][0]["location"] == "body.jsonSchema"
    unknown = api.post(
        "/metadata-fields",
        json={"resourceType": "INSTANCE", "key": "k", "label": "K", "jsonSchema": {}, "x": 1},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["location"] == "body.x"


def test_instance_metadata_is_validated_and_dry_run(kaiten: KaitenClient) -> None:
    _instance(kaiten, "eu-one", {"region": "eu", "free": {"any": 1}})
    _instance(kaiten, "mars-one", {"region": "mars"})  # no field yet: stored as given
    field = kaiten.metadata_fields.create(
        resource_type="INSTANCE", key="region", label="Region", json_schema={"type": "string"}
    )
    impact = kaiten.metadata_fields.dry_run(field.id, REGION)
    assert impact.count == 1
    assert [(s.slug, s.name) for s in impact.samples or []] == [("mars-one", "mars-one")]
    # The dry run changed nothing.
    assert kaiten.metadata_fields.list("INSTANCE")[0].json_schema == {"type": "string"}

    kaiten.metadata_fields.update(
        field.id, resource_type="INSTANCE", key="region", label="Region", json_schema=REGION
    )
    with pytest.raises(UnprocessableEntityError) as refused:
        _instance(kaiten, "moon-one", {"region": "moon"})
    assert refused.value.problem is not None
    assert refused.value.problem.errors
    assert refused.value.problem.errors[0].location.endswith("metadata.region")
    existing = kaiten.instances.get("eu-one")
    with pytest.raises(UnprocessableEntityError):
        kaiten.instances.update(
            "eu-one",
            name="eu-one",
            customer_id=existing.customer_id,
            license_id=existing.license_id,
            start_license_date=START,
            end_license_date=END,
            metadata={"region": 7},
        )
    assert kaiten.instances.get("eu-one").metadata == {"region": "eu", "free": {"any": 1}}
    kaiten.metadata_fields.archive(field.id)  # an archived field validates nothing
    _instance(kaiten, "moon-two", {"region": "moon"})
    assert kaiten.instances.get("moon-two").metadata == {"region": "moon"}


def test_async_metadata_field_flow(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            created = await client.metadata_fields.create(
                resource_type="DEPLOYMENT_ZONE", key="dc", label="DC", json_schema=REGION
            )
            await client.deployment_zones.create(name="Z", type="production", metadata={"dc": "ap"})
            impact = await client.metadata_fields.dry_run(created.id, {"const": "eu"})
            assert impact.count == 1
            await client.metadata_fields.reorder([created.id])
            archived = await client.metadata_fields.archive(created.id)
            assert archived.archived_at is not None
            assert (await client.metadata_fields.unarchive(created.id)).archived_at is None
            fields = await client.metadata_fields.list("DEPLOYMENT_ZONE")
            assert [(f.key, f.display_order) for f in fields] == [("dc", 0)]

    asyncio.run(flow())


def test_a_schema_with_a_number_out_of_range_is_refused_by_name(api: httpx.Client) -> None:
    """1e999 reads as infinity, which no JSON column stores: refused (422, as Kaiten
    validation errors are) naming the field."""
    body = (
        b'{"resourceType": "INSTANCE", "key": "tier", "label": "Tier",'
        b' "jsonSchema": {"type": "number", "x": [1e999999]}}'
    )
    answer = api.post(
        "/metadata-fields", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert "jsonSchema" in answer.text
