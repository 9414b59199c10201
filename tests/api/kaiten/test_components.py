"""Components through the official SDK."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from kaitencloud import AsyncKaitenClient, ConflictError, KaitenClient, NotFoundError

from tests.conftest import Tenant


def test_component_crud(kaiten: KaitenClient, api: httpx.Client) -> None:
    assert kaiten.components.list() == []
    gateway = kaiten.components.create(name="API gateway", version="v1.2.3", description="The edge")
    assert (gateway.slug, gateway.name, gateway.version, gateway.description) == (
        "api-gateway",
        "API gateway",
        "v1.2.3",
        "The edge",
    )
    assert gateway.previous_component_id is None
    assert gateway.created_by.id
    successor = kaiten.components.create(
        name="API gateway 2", version="v2.0.0", previous_component_id=gateway.id, slug="gw2"
    )
    assert successor.previous_component_id == gateway.id
    assert [c.slug for c in kaiten.components.list()] == ["api-gateway", "gw2"]

    updated = kaiten.components.update("gw2", name="Gateway", version="v2.0.1")
    assert (updated.name, updated.version, updated.description) == ("Gateway", "v2.0.1", None)
    got = kaiten.components.get("gw2")
    assert (got.id, got.version, got.previous_component_id) == (
        successor.id,
        "v2.0.1",
        gateway.id,
    )
    # The predecessor link is set once: an update body cannot carry it.
    refused = api.put(
        "/components/gw2",
        json={"name": "x", "version": "1", "previousComponentId": successor.id},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["location"] == "body.previousComponentId"

    with pytest.raises(ConflictError):
        kaiten.components.create(name="dup", version="1", slug="gw2")
    with pytest.raises(NotFoundError):
        kaiten.components.create(name="orphan", version="1", previous_component_id="nope-not-an-id")
    kaiten.components.delete("gw2")
    with pytest.raises(NotFoundError):
        kaiten.components.get("gw2")
    with pytest.raises(NotFoundError):
        kaiten.components.update("gw2", name="n", version="1")
    with pytest.raises(NotFoundError):
        kaiten.components.delete("gw2")


def test_component_in_a_release_is_kept(kaiten: KaitenClient) -> None:
    core = kaiten.components.create(name="core", version="1")
    kaiten.releases.create(version="v1", component_ids=[core.id])
    with pytest.raises(ConflictError):
        kaiten.components.delete("core")
    kaiten.releases.delete("v1")
    kaiten.components.delete("core")
    assert kaiten.components.list() == []


def test_async_component_flow(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            created = await client.components.create(name="worker", version="0.1")
            changed = await client.components.update(
                "worker", name="worker", version="0.2", description="d"
            )
            assert (changed.id, changed.version, changed.description) == (created.id, "0.2", "d")
            assert (await client.components.get("worker")).version == "0.2"
            assert len(await client.components.list()) == 1
            await client.components.delete("worker")
            assert await client.components.list() == []

    asyncio.run(flow())
