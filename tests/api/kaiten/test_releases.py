"""Releases through the official SDK: immutable sets of components."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from kaitencloud import AsyncKaitenClient, ConflictError, KaitenClient, NotFoundError

from tests.conftest import Tenant


def test_release_create_get_list_delete(kaiten: KaitenClient, api: httpx.Client) -> None:
    assert kaiten.releases.list() == []
    api_c = kaiten.components.create(name="api", version="1.4.0")
    ui_c = kaiten.components.create(name="ui", version="2.0.0")
    release = kaiten.releases.create(
        version="v1.4.0", description="Spring", component_ids=[ui_c.id, api_c.id]
    )
    assert (release.slug, release.version, release.description) == ("v1-4-0", "v1.4.0", "Spring")
    assert release.component_ids == [ui_c.id, api_c.id]
    assert [c.name for c in release.components or []] == ["ui", "api"]
    bare = kaiten.releases.create(version="v1.5.0", slug="next")
    assert bare.component_ids == [] and bare.components == []

    got = kaiten.releases.get("v1-4-0")
    assert (got.id, got.component_ids) == (release.id, [ui_c.id, api_c.id])
    assert [(c.slug, c.version) for c in got.components or []] == [
        ("ui", "2.0.0"),
        ("api", "1.4.0"),
    ]
    listed = kaiten.releases.list()
    assert [r.slug for r in listed] == ["v1-4-0", "next"]
    assert listed[0].component_ids == [ui_c.id, api_c.id]

    with pytest.raises(ConflictError):
        kaiten.releases.create(version="v1.4.0", slug="other")  # the version is unique
    with pytest.raises(ConflictError):
        kaiten.releases.create(version="v9", slug="next")
    with pytest.raises(NotFoundError):
        kaiten.releases.create(version="v9", component_ids=["00000000-0000-0000-0000-000000000001"])
    twice = api.post("/releases", json={"version": "v9", "componentIds": [api_c.id, api_c.id]})
    assert twice.status_code == 422, twice.text
    assert twice.json()["errors"][0]["location"] == "body.componentIds"
    # No update: a release is immutable.
    assert api.put("/releases/next", json={"version": "v2"}).status_code == 405

    zone = kaiten.deployment_zones.create(name="prod", type="production", release_id=bare.id)
    with pytest.raises(ConflictError):
        kaiten.releases.delete("next")
    kaiten.deployment_zones.delete(zone.slug or "")
    kaiten.releases.delete("next")
    kaiten.releases.delete("v1-4-0")
    with pytest.raises(NotFoundError):
        kaiten.releases.get("next")
    with pytest.raises(NotFoundError):
        kaiten.releases.delete("next")
    assert kaiten.releases.list() == []
    assert len(kaiten.components.list()) == 2  # the components stay


def test_async_release_flow(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            part = await client.components.create(name="part", version="1")
            created = await client.releases.create(version="r1", component_ids=[part.id])
            got = await client.releases.get(created.slug or "")
            assert got.component_ids == [part.id]
            assert [r.id for r in await client.releases.list()] == [created.id]
            await client.releases.delete(created.slug or "")
            assert await client.releases.list() == []

    asyncio.run(flow())
