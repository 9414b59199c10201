"""The Platform API through the official SDK's KaitenPlatformClient: a platform credential
(minted with the CLI, as an operator does) ensures organizations, mints organization tokens
that work on the Core API with exactly their scopes, and removes users; its scopes are
enforced, a Core key hears 404 on every platform route and a platform credential 401 on
the Core routes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenPlatformClient,
    AuthenticationError,
    ConflictError,
    KaitenClient,
    KaitenPlatformClient,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

from meterline.accounts.organizations import ORGANIZATION_NAMESPACE
from meterline.api.kaiten.ids import wire_id
from tests.conftest import Server, Tenant
from tests.security.conftest import platform_credential, run_cli


def organization_key(server: Server, name: str) -> str:
    """A full-rights key acting as the admin user of the organization named ``name``."""
    return str(
        json.loads(run_cli(server, "keys", "create", "--organization", name, "--json"))["key"]
    )


def _user_id(server: Server, key: str) -> str:
    with server.client(key) as http:
        stored = http.get("/v1/users/me").json()["id"]
    assert stored.startswith("user_")
    return str(wire_id(stored))


@pytest.fixture(scope="module")
def ksm(server: Server) -> str:
    return platform_credential(server)["key"]


@pytest.fixture
def platform(server: Server, ksm: str) -> KaitenPlatformClient:
    with KaitenPlatformClient(base_url=server.base_url, token=ksm, max_retries=0) as client:
        yield client  # type: ignore[misc]


def _core(server: Server, token: str) -> KaitenClient:
    return KaitenClient(base_url=server.base_url, token=token, max_retries=0)


def _external() -> str:
    return f"org_{uuid.uuid4().hex[:12]}"


def test_me_describes_the_credential(server: Server) -> None:
    created = platform_credential(server, "read:tokens", ttl="2160h")
    with KaitenPlatformClient(
        base_url=server.base_url, token=created["key"], max_retries=0
    ) as client:
        me = client.me()
    assert (me.slug, me.name, me.scopes) == (created["slug"], created["name"], ["read:tokens"])
    assert (me.credential_kind, me.subject) == ("platform", "system:kaiten")
    assert me.expires_at is not None
    assert timedelta(days=89) < me.expires_at - me.created_at <= timedelta(days=90, seconds=5)
    assert len(me.id) == 36
    # Describing the caller needs read:tokens, as the contract says.
    other = platform_credential(server, "read:organizations")
    with (
        KaitenPlatformClient(base_url=server.base_url, token=other["key"], max_retries=0) as client,
        pytest.raises(PermissionDeniedError),
    ):
        client.me()


def test_ensure_is_idempotent_and_derives_the_id(platform: KaitenPlatformClient) -> None:
    external = _external()
    created = platform.organizations.ensure(external_id=external, name="Acme Inc")
    assert created.id == str(uuid.uuid5(ORGANIZATION_NAMESPACE, external))
    assert (created.external_id, created.name) == (external, "Acme Inc")
    again = platform.organizations.ensure(external_id=external, name="Renamed")
    assert (again.id, again.name) == (created.id, "Acme Inc")  # never renamed
    assert platform.organizations.get(created.id) == created
    unnamed = platform.organizations.ensure(external_id=_external())
    assert unnamed.name == unnamed.external_id
    with pytest.raises(NotFoundError):
        platform.organizations.get(str(uuid.uuid4()))
    with pytest.raises(UnprocessableEntityError):
        platform.organizations.ensure(external_id="")
    with pytest.raises(UnprocessableEntityError):
        platform.organizations.ensure(external_id="x" * 256)


def test_minted_tokens_work_with_their_scopes_until_revoked(
    server: Server, platform: KaitenPlatformClient
) -> None:
    org = platform.organizations.ensure(external_id=_external())
    minted = platform.tokens.mint(
        org.id, name="billing-sync", scopes=["read:customers", "write:customers"], ttl="3600s"
    )
    assert minted.token is not None and minted.token.startswith("ksh_")
    assert minted.scopes == ["read:customers", "write:customers"]
    assert minted.expires_at is not None and minted.slug is not None
    with pytest.raises(ConflictError):  # a name of an active token of the organization
        platform.tokens.mint(org.id, name="billing-sync")
    listed = platform.tokens.list(org.id)
    assert [(t.slug, t.name) for t in listed] == [(minted.slug, "billing-sync")]

    with _core(server, minted.token) as core:
        customer = core.customers.create(name="In the new org", slug="first")
        assert [c.slug for c in core.customers.list()] == ["first"]
        with pytest.raises(PermissionDeniedError):
            core.licenses.list()
        platform.tokens.revoke(org.id, minted.slug)
        with pytest.raises(AuthenticationError):
            core.customers.get(customer.slug or "first")
    assert platform.tokens.list(org.id) == []
    with pytest.raises(NotFoundError):
        platform.tokens.revoke(org.id, minted.slug)

    # The organization holds data now: deleting it is refused, and the data kept.
    with pytest.raises(ConflictError):
        platform.organizations.delete(org.id)
    assert platform.organizations.get(org.id).id == org.id


def test_an_expired_token_answers_401(server: Server, platform: KaitenPlatformClient) -> None:
    org = platform.organizations.ensure(external_id=_external())
    minted = platform.tokens.mint(
        org.id, name="brief", scopes=["read:customers"], ttl=timedelta(seconds=1)
    )
    assert minted.token is not None
    with _core(server, minted.token) as core:
        core.customers.list()
        time.sleep(1.2)
        with pytest.raises(AuthenticationError):
            core.customers.list()


def test_mint_refuses_bad_ttls_and_scopes_by_name(
    server: Server, platform: KaitenPlatformClient, ksm: str
) -> None:
    org = platform.organizations.ensure(external_id=_external())
    for ttl in ("10x", "0s", "-5s", "1h 2m", "87601h", "", "١s"):
        with pytest.raises(UnprocessableEntityError) as refused:
            platform.tokens.mint(org.id, name="t", ttl=ttl)
        assert "ttl" in str(refused.value.body), ttl
    with pytest.raises(UnprocessableEntityError):
        platform.tokens.mint(org.id, name="t", scopes=["delete:users"])  # type: ignore[list-item]
    with httpx.Client(base_url=server.base_url + "/api", timeout=30) as http:
        response = http.post(
            f"/platform/organizations/{org.id}/tokens",
            json={"name": "t", "slug": "chosen"},
            headers={"Authorization": f"Bearer {ksm}"},
        )
    assert response.status_code == 422 and "slug" in response.text
    with pytest.raises(NotFoundError):
        platform.tokens.mint(str(uuid.uuid4()), name="t")
    with pytest.raises(NotFoundError):
        platform.tokens.list(str(uuid.uuid4()))


def test_a_credential_mints_only_scopes_it_holds(server: Server, ksm: str) -> None:
    with KaitenPlatformClient(base_url=server.base_url, token=ksm, max_retries=0) as full:
        org = full.organizations.ensure(external_id=_external())
        theirs = full.tokens.mint(org.id, name="theirs", scopes=["read:licenses"])
    narrow = platform_credential(server, "read:organizations", "write:tokens", "read:customers")
    with KaitenPlatformClient(
        base_url=server.base_url, token=narrow["key"], max_retries=0
    ) as client:
        with pytest.raises(PermissionDeniedError):
            client.tokens.mint(org.id, name="x", scopes=["write:customers"])
        inherited = client.tokens.mint(org.id, name="all")
        assert inherited.scopes == [
            "read:customers",
            "read:organizations",
            "read:tokens",
            "write:tokens",
        ]
        # Only its own tokens are listed and revoked.
        assert [t.name for t in client.tokens.list(org.id)] == ["all"]
        assert theirs.slug is not None
        with pytest.raises(NotFoundError):
            client.tokens.revoke(org.id, theirs.slug)
        # What the credential's scopes do not allow is refused.
        with pytest.raises(PermissionDeniedError):
            client.organizations.ensure(external_id=_external())
        with pytest.raises(PermissionDeniedError):
            client.organizations.delete(org.id)
        with pytest.raises(PermissionDeniedError):
            client.organizations.delete_membership(org.id, str(uuid.uuid4()))
        with pytest.raises(PermissionDeniedError):
            client.users.delete(str(uuid.uuid4()))
        assert client.organizations.get(org.id).id == org.id


def test_delete_an_empty_organization(server: Server, platform: KaitenPlatformClient) -> None:
    org = platform.organizations.ensure(external_id=_external())
    minted = platform.tokens.mint(org.id, name="t", scopes=["read:customers"])
    platform.organizations.delete(org.id)
    with pytest.raises(NotFoundError):
        platform.organizations.get(org.id)
    with pytest.raises(NotFoundError):
        platform.organizations.delete(org.id)
    assert minted.token is not None
    with _core(server, minted.token) as core, pytest.raises(AuthenticationError):
        core.customers.list()
    # Ensuring it again makes a fresh organization with the same id.
    assert platform.organizations.ensure(external_id=org.external_id).id == org.id


def test_remove_a_membership_and_delete_a_user(
    server: Server, platform: KaitenPlatformClient
) -> None:
    org = platform.organizations.ensure(
        external_id=_external(), name=f"members {uuid.uuid4().hex[:8]}"
    )
    member_key = organization_key(server, org.name)
    member = _user_id(server, member_key)
    other = platform.organizations.ensure(external_id=_external())
    with pytest.raises(NotFoundError):  # not a member of that organization
        platform.organizations.delete_membership(other.id, member)
    platform.organizations.delete_membership(org.id, member)
    with server.client(member_key) as http:
        assert http.get("/v1/customers").status_code == 401
    with pytest.raises(NotFoundError):
        platform.organizations.delete_membership(org.id, member)

    lonely = platform.organizations.ensure(
        external_id=_external(), name=f"users {uuid.uuid4().hex[:8]}"
    )
    user_key = organization_key(server, lonely.name)
    user = _user_id(server, user_key)
    platform.users.delete(user)
    with server.client(user_key) as http:
        assert http.get("/v1/customers").status_code == 401
    with pytest.raises(NotFoundError):
        platform.users.delete(user)
    with pytest.raises(NotFoundError):
        platform.users.delete(str(uuid.uuid4()))


def test_each_surface_refuses_the_other_credential(
    server: Server, tenant: Tenant, ksm: str
) -> None:
    with httpx.Client(base_url=server.base_url + "/api", timeout=30) as http:
        for headers in ({"Authorization": f"Bearer {tenant.key}"}, {"x-api-key": tenant.key}):
            response = http.get("/platform/me", headers=headers)
            assert response.status_code == 404, response.text
            response = http.post("/platform/organizations", json={"bad": 1}, headers=headers)
            assert response.status_code == 404, response.text
        assert http.get("/platform/me").status_code == 401
        core = http.get("/customers", headers={"Authorization": f"Bearer {ksm}"})
        assert core.status_code == 401, core.text
        forged = http.get("/platform/me", headers={"Authorization": "Bearer ksm_" + "A" * 43})
        assert forged.status_code == 401, forged.text
        # A refused body still answers 401 first to a credential that is not live.
        forged = http.post(
            "/platform/organizations",
            json={"bad": 1},
            headers={"Authorization": "Bearer ksm_" + "A" * 43},
        )
        assert forged.status_code == 401, forged.text
        unknown = http.post(
            "/platform/organizations",
            json={"externalId": "x", "extra": 1},
            headers={"Authorization": f"Bearer {ksm}"},
        )
        assert unknown.status_code == 422 and "extra" in unknown.text


def test_revoked_and_expired_credentials(server: Server) -> None:
    created = platform_credential(server)
    with KaitenPlatformClient(
        base_url=server.base_url, token=created["key"], max_retries=0
    ) as client:
        org = client.organizations.ensure(external_id=_external())
        minted = client.tokens.mint(org.id, name="cascade", scopes=["read:customers"])
        run_cli(server, "keys", "revoke-platform", created["slug"])
        with pytest.raises(AuthenticationError):
            client.me()
    assert minted.token is not None
    with _core(server, minted.token) as core, pytest.raises(AuthenticationError):
        core.customers.list()

    brief = platform_credential(server, "read:organizations", ttl="1s")
    time.sleep(1.2)
    with (
        KaitenPlatformClient(base_url=server.base_url, token=brief["key"], max_retries=0) as client,
        pytest.raises(AuthenticationError),
    ):
        client.me()


def test_async_round_trip(server: Server, ksm: str) -> None:
    async def run() -> None:
        async with AsyncKaitenPlatformClient(
            base_url=server.base_url, token=ksm, max_retries=0
        ) as client:
            assert (await client.me()).credential_kind == "platform"
            org = await client.organizations.ensure(external_id=_external(), name="async org")
            assert (await client.organizations.get(org.id)).name == "async org"
            minted = await client.tokens.mint(org.id, name="a", scopes=["read:customers"])
            assert minted.slug is not None
            assert [t.slug for t in await client.tokens.list(org.id)] == [minted.slug]
            await client.tokens.revoke(org.id, minted.slug)
            assert await client.tokens.list(org.id) == []
            await client.organizations.delete(org.id)
            with pytest.raises(NotFoundError):
                await client.organizations.get(org.id)
            with pytest.raises(NotFoundError):
                await client.organizations.delete_membership(org.id, str(uuid.uuid4()))
            with pytest.raises(NotFoundError):
                await client.users.delete(str(uuid.uuid4()))

    asyncio.run(run())


def test_register_a_connector_on_the_platform(
    server: Server, platform: KaitenPlatformClient
) -> None:
    """The connector registry through the Platform client: an upsert by name that the Core
    API then lists; its body is checked by name and its scope enforced."""
    name = f"kaiten.integration.crm.p{uuid.uuid4().hex[:8]}"
    schema = {"type": "object", "properties": {"region": {"type": "string"}}}
    first = platform.connectors.register(name=name, version="1.0.0", settings_schema=schema)
    assert (first.name, first.version, first.entitlement_slug) == (name, "1.0.0", None)
    again = platform.connectors.register(name=name, version="1.1.0", entitlement_slug="crm")
    assert (again.version, again.entitlement_slug) == ("1.1.0", "crm")
    minted = platform.tokens.mint(
        platform.organizations.ensure(external_id=_external()).id,
        name="reader",
        scopes=["read:organizations"],
    )
    assert minted.token is not None
    with _core(server, minted.token) as core:
        seen = core.connectors.get(name)
        assert (seen.version, seen.settings_schema) == ("1.1.0", {})
        assert name in [c.name for c in core.connectors.list()]
    with pytest.raises(UnprocessableEntityError) as refused:
        platform.connectors.register(name="Not A Name!", version="1")
    assert "name" in str(refused.value.body)
    with pytest.raises(UnprocessableEntityError):
        platform.connectors.register(name=name, version="1", settings_schema={"type": 5})
    narrow = platform_credential(server, "read:organizations")
    with (
        KaitenPlatformClient(base_url=server.base_url, token=narrow["key"], max_retries=0) as c,
        pytest.raises(PermissionDeniedError),
    ):
        c.connectors.register(name=name, version="2.0.0")
