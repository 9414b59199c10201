"""Connectors through the official SDK: definitions registered with the
``meterline connectors register`` command (deployment-wide), activation, settings validated
against the connector's JSON Schema, and state, per organization, on every backend."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenClient,
    KaitenClient,
    NotFoundError,
    PermissionDeniedError,
)

from tests.api.kaiten.conftest import mint_key
from tests.conftest import Server, Tenant, new_tenant

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri", "maxLength": 200},
        "token": {"type": "string", "writeOnly": True},
        "retries": {"type": "integer", "minimum": 0, "maximum": 5},
        "nested": {
            "type": "object",
            "properties": {
                "secret": {"type": "string", "writeOnly": True},
                "on": {"type": "boolean"},
            },
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}


def register(
    server: Server,
    tmp_path: Path,
    name: str,
    *,
    version: str = "1.0.0",
    schema: Any = None,
    entitlement: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``meterline connectors register`` against the test server's database."""
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(SCHEMA if schema is None else schema))
    argv = [sys.executable, "-m", "meterline", "connectors", "register", name]
    argv += ["--version", version, "--schema", str(path)]
    if entitlement is not None:
        argv += ["--entitlement", entitlement]
    env = {"METERLINE_DATABASE_URL": server.database_url, "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def _name() -> str:
    return f"conn-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def shared(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A connector registered once per server: activation and settings are each tenant's,
    and every test has a fresh tenant, so tests that change neither the definition nor its
    gate share it (a registration is a process start)."""
    name = _name()
    done = register(server, tmp_path_factory.mktemp("schemas"), name)
    assert done.returncode == 0, done.stderr
    return name


def test_register_and_read(kaiten: KaitenClient, tenant: Tenant, tmp_path: Path) -> None:
    name = _name()
    done = register(tenant.server, tmp_path, name)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"name": name, "version": "1.0.0"}

    connector = kaiten.connectors.get(name)
    assert (connector.name, connector.version, connector.entitlement_slug) == (name, "1.0.0", None)
    assert connector.settings_schema == SCHEMA
    assert connector.created_at.tzinfo is not None
    assert name in [c.name for c in kaiten.connectors.list()]
    schema = kaiten.connectors.get_settings_schema(name)
    assert (schema.connector_name, schema.version, schema.json_schema) == (name, "1.0.0", SCHEMA)

    # Registering again replaces the definition (an upsert by name).
    assert register(tenant.server, tmp_path, name, version="2.0.0").returncode == 0
    assert kaiten.connectors.get(name).version == "2.0.0"
    assert [c.name for c in kaiten.connectors.list()].count(name) == 1

    with pytest.raises(NotFoundError):
        kaiten.connectors.get("no-such-connector")
    with pytest.raises(NotFoundError):
        kaiten.connectors.get_settings_schema("no-such-connector")


def test_register_refuses_bad_definitions(tenant: Tenant, tmp_path: Path) -> None:
    bad_schema = register(tenant.server, tmp_path, _name(), schema={"type": "colour"})
    assert bad_schema.returncode == 1
    assert "settings_schema" in bad_schema.stderr
    bad_name = register(tenant.server, tmp_path, "Not A Name")
    assert bad_name.returncode == 1 and "name" in bad_name.stderr
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    argv = [sys.executable, "-m", "meterline", "connectors", "register", _name()]
    env = {"METERLINE_DATABASE_URL": tenant.server.database_url, "PATH": "/usr/bin:/bin"}
    env |= {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    broken = subprocess.run(
        [*argv, "--version", "1", "--schema", str(not_json)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode != 0 and "--schema" in broken.stderr


def test_activation_and_state(kaiten: KaitenClient, tenant: Tenant, tmp_path: Path) -> None:
    name = _name()
    missing = kaiten.connectors.get_state(name)
    assert (missing.available, missing.entitled, missing.activated) == (False, False, False)
    assert missing.version is None
    with pytest.raises(NotFoundError):
        kaiten.connectors.activate(name)

    assert register(tenant.server, tmp_path, name).returncode == 0
    state = kaiten.connectors.get_state(name)
    assert (state.connector_name, state.available, state.entitled, state.activated) == (
        name,
        True,
        True,  # ungated
        False,
    )
    assert state.activated_at is None and state.version == "1.0.0"

    before = datetime.now(UTC).replace(microsecond=0)
    activation = kaiten.connectors.activate(name)
    assert activation.connector_name == name and activation.activated_at >= before
    again = kaiten.connectors.activate(name)  # idempotent: the first time stays
    assert again.activated_at == activation.activated_at
    state = kaiten.connectors.get_state(name)
    assert state.activated is True and state.activated_at == activation.activated_at

    kaiten.connectors.deactivate(name)
    assert kaiten.connectors.get_state(name).activated is False
    with pytest.raises(NotFoundError):
        kaiten.connectors.deactivate(name)


def test_a_gated_connector_needs_the_entitlement(
    kaiten: KaitenClient, tenant: Tenant, tmp_path: Path
) -> None:
    name, slug = _name(), f"ent-{uuid.uuid4().hex[:8]}"
    assert register(tenant.server, tmp_path, name, entitlement=slug).returncode == 0
    assert kaiten.connectors.get(name).entitlement_slug == slug
    assert kaiten.connectors.get_state(name).entitled is False
    with pytest.raises(PermissionDeniedError):
        kaiten.connectors.activate(name)

    kaiten.entitlements.create(name="Connector", slug=slug, type="BOOLEAN")
    kaiten.licenses.create(name="Off", slug=f"{slug}-off", type="PAID")
    kaiten.licenses.associate_entitlement(f"{slug}-off", slug, False)
    assert kaiten.connectors.get_state(name).entitled is False  # granted as false
    kaiten.licenses.create(name="Draft", slug=f"{slug}-d", type="PAID", lifecycle_state="DRAFT")
    kaiten.licenses.associate_entitlement(f"{slug}-d", slug, True)
    assert kaiten.connectors.get_state(name).entitled is False  # not on sale yet
    kaiten.licenses.publish(f"{slug}-d")
    assert kaiten.connectors.get_state(name).entitled is True
    assert kaiten.connectors.activate(name).connector_name == name

    # Another organization's license does not entitle this one, nor the other way round.
    other = new_tenant(tenant.server)
    with KaitenClient(base_url=other.server.base_url, token=other.key, max_retries=0) as them:
        assert them.connectors.get_state(name).entitled is False
        assert them.connectors.get_state(name).activated is False
        with pytest.raises(PermissionDeniedError):
            them.connectors.activate(name)


def test_settings(kaiten: KaitenClient, tenant: Tenant, shared: str) -> None:
    name = shared
    with pytest.raises(NotFoundError):
        kaiten.connectors.get_settings(name)
    written = kaiten.connectors.update_settings(
        name,
        {
            "url": "https://example.com/hook",
            "token": "s3cret",
            "retries": 3,
            "nested": {"secret": "x", "on": True},
        },
    )
    # Secrets (writeOnly) are stored, never read back.
    shown = {"url": "https://example.com/hook", "retries": 3, "nested": {"on": True}}
    assert (written.connector_name, written.settings) == (name, shown)
    assert kaiten.connectors.get_settings(name).settings == shown
    assert "s3cret" not in kaiten.connectors.get(name).model_dump_json()

    replaced = kaiten.connectors.update_settings(name, {"url": "https://example.org"})
    assert replaced.settings == {"url": "https://example.org"}  # a full replacement
    kaiten.connectors.delete_settings(name)
    with pytest.raises(NotFoundError):
        kaiten.connectors.get_settings(name)
    with pytest.raises(NotFoundError):
        kaiten.connectors.delete_settings(name)
    with pytest.raises(NotFoundError):
        kaiten.connectors.update_settings("no-such-connector", {"url": "https://x.org"})


@pytest.mark.parametrize(
    ("settings", "location"),
    [
        ({}, "body.settings"),  # url is required
        ({"url": "https://x.org", "retries": 9}, "body.settings.retries"),
        ({"url": "https://x.org", "colour": "red"}, "body.settings"),
        ({"url": "https://x.org", "nested": {"on": "yes"}}, "body.settings.nested.on"),
        ({"url": 5}, "body.settings.url"),
    ],
)
def test_settings_are_validated_by_name(
    api: httpx.Client, tenant: Tenant, shared: str, settings: dict[str, Any], location: str
) -> None:
    name = shared
    refused = api.put(f"/connectors/{name}/settings", json={"settings": settings})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["location"] == location
    assert api.get(f"/connectors/{name}/settings").status_code == 404


def test_settings_body_refusals(api: httpx.Client, tenant: Tenant, shared: str) -> None:
    name = shared
    unknown = api.put(f"/connectors/{name}/settings", json={"settings": {}, "extra": 1})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["location"] == "body.extra"
    not_object = api.put(f"/connectors/{name}/settings", json={"settings": [1]})
    assert not_object.status_code == 422
    assert not_object.json()["errors"][0]["location"] == "body.settings"
    infinite = api.put(
        f"/connectors/{name}/settings",
        content='{"settings": {"url": "https://x.org", "retries": 1e999}}',
        headers={"Content-Type": "application/json"},
    )
    assert infinite.status_code == 422
    assert infinite.json()["errors"][0]["location"] == "body.settings"
    many = {f"k{i}": i for i in range(201)}
    too_many = api.put(f"/connectors/{name}/settings", json={"settings": many})
    assert too_many.status_code == 422


def test_another_tenant_sees_none_of_this_one(
    kaiten: KaitenClient, tenant: Tenant, shared: str
) -> None:
    name = shared
    kaiten.connectors.activate(name)
    kaiten.connectors.update_settings(name, {"url": "https://mine.example.com"})
    other = new_tenant(tenant.server)
    with KaitenClient(base_url=other.server.base_url, token=other.key, max_retries=0) as them:
        # The definition is the deployment's: every organization sees it.
        assert them.connectors.get(name).name == name
        state = them.connectors.get_state(name)
        assert (state.available, state.activated) == (True, False)
        with pytest.raises(NotFoundError):
            them.connectors.get_settings(name)
        with pytest.raises(NotFoundError):
            them.connectors.delete_settings(name)
        with pytest.raises(NotFoundError):
            them.connectors.deactivate(name)
        them.connectors.update_settings(name, {"url": "https://theirs.example.com"})
    assert kaiten.connectors.get_settings(name).settings == {"url": "https://mine.example.com"}
    assert kaiten.connectors.get_state(name).activated is True


def test_connector_scopes(tenant: Tenant, shared: str) -> None:
    name = shared
    reader = mint_key(tenant, ["read:organizations"])
    with KaitenClient(base_url=tenant.server.base_url, token=reader, max_retries=0) as client:
        assert client.connectors.get(name).name == name
        with pytest.raises(PermissionDeniedError):
            client.connectors.activate(name)
    stranger = mint_key(tenant, ["read:licenses"])
    with (
        KaitenClient(base_url=tenant.server.base_url, token=stranger, max_retries=0) as client,
        pytest.raises(PermissionDeniedError),
    ):
        client.connectors.list()


def test_async_connector_flow(tenant: Tenant, shared: str) -> None:
    name = shared

    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            assert name in [c.name for c in await client.connectors.list()]
            assert (await client.connectors.get(name)).version == "1.0.0"
            assert (await client.connectors.get_settings_schema(name)).json_schema == SCHEMA
            await client.connectors.activate(name)
            assert (await client.connectors.get_state(name)).activated is True
            written = await client.connectors.update_settings(name, {"url": "https://a.example"})
            assert written.settings == {"url": "https://a.example"}
            assert (await client.connectors.get_settings(name)).settings == written.settings
            await client.connectors.delete_settings(name)
            await client.connectors.deactivate(name)
            assert (await client.connectors.get_state(name)).activated is False

    asyncio.run(flow())
