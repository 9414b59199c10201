"""Service accounts and their ksh_ tokens through the official SDK: a token works on the
Core API with exactly its scopes, a revoked or expired one answers 401, a token never
carries scopes its creator lacks, and another tenant sees none of it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenClient,
    AuthenticationError,
    ConflictError,
    KaitenClient,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

from tests.api.kaiten.conftest import mint_key
from tests.conftest import Tenant, new_tenant


def _client(tenant: Tenant, token: str) -> KaitenClient:
    return KaitenClient(base_url=tenant.server.base_url, token=token, max_retries=0)


def test_service_account_crud(kaiten: KaitenClient) -> None:
    assert kaiten.service_accounts.list() == []
    created = kaiten.service_accounts.create(name="Billing Sync")
    assert (created.slug, created.name, created.tokens) == ("billing-sync", "Billing Sync", [])
    assert created.id is not None and len(created.id) == 36
    kaiten.service_accounts.create(name="CI", slug="ci-bot")
    assert [a.slug for a in kaiten.service_accounts.list()] == ["billing-sync", "ci-bot"]

    kaiten.service_accounts.update("ci-bot", name="CI robot")
    again = kaiten.service_accounts.get("ci-bot")
    assert (again.slug, again.name) == ("ci-bot", "CI robot")
    assert again.created_by is not None

    with pytest.raises(ConflictError):
        kaiten.service_accounts.create(name="dup", slug="ci-bot")
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.get("nobody")
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.update("nobody", name="x")
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.list_tokens("nobody")
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.create_token("nobody", name="t")
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.delete_token("ci-bot", "no-token")


def test_a_token_works_with_exactly_its_scopes_until_revoked(
    kaiten: KaitenClient, tenant: Tenant
) -> None:
    kaiten.service_accounts.create(name="reader", slug="reader")
    plain = kaiten.service_accounts.create_token(
        "reader", name="customers", scopes=["read:customers"], slug="cust-read"
    )
    assert plain.token is not None and plain.token.startswith("ksh_")
    assert (plain.slug, plain.name, plain.scopes) == ("cust-read", "customers", ["read:customers"])
    assert plain.service_account_id == kaiten.service_accounts.get("reader").id
    assert plain.expires_at is None

    listed = kaiten.service_accounts.list_tokens("reader")
    assert [(t.slug, t.name) for t in listed] == [("cust-read", "customers")]
    assert "token" not in listed[0].to_dict() or listed[0].to_dict().get("token") is None
    assert [t.slug for t in kaiten.service_accounts.get("reader").tokens or []] == ["cust-read"]

    kaiten.customers.create(name="Acme", slug="acme")
    with _client(tenant, plain.token) as scoped:
        assert [c.slug for c in scoped.customers.list()] == ["acme"]
        with pytest.raises(PermissionDeniedError):
            scoped.customers.create(name="Nope")
        with pytest.raises(PermissionDeniedError):
            scoped.licenses.list()
        with pytest.raises(PermissionDeniedError):
            scoped.service_accounts.list()

        kaiten.service_accounts.delete_token("reader", "cust-read")
        with pytest.raises(AuthenticationError):
            scoped.customers.list()
    assert kaiten.service_accounts.list_tokens("reader") == []
    with pytest.raises(NotFoundError):
        kaiten.service_accounts.delete_token("reader", "cust-read")


def test_token_names_and_slugs(kaiten: KaitenClient) -> None:
    kaiten.service_accounts.create(name="bot", slug="bot")
    first = kaiten.service_accounts.create_token("bot", name="Deploy Key", scopes=[])
    assert first.slug == "deploy-key"
    assert first.scopes == []
    with pytest.raises(ConflictError):  # the name of an active token
        kaiten.service_accounts.create_token("bot", name="Deploy Key")
    with pytest.raises(ConflictError):
        kaiten.service_accounts.create_token("bot", name="other", slug="deploy-key")
    kaiten.service_accounts.delete_token("bot", "deploy-key")
    # A revoked token's name is free again; its slug is not, so a new one is made.
    again = kaiten.service_accounts.create_token("bot", name="Deploy Key")
    assert again.slug is not None and again.slug.startswith("deploy-key-")


def test_a_token_expires(kaiten: KaitenClient, tenant: Tenant) -> None:
    kaiten.service_accounts.create(name="short", slug="short")
    soon = datetime.now(UTC) + timedelta(seconds=1)
    plain = kaiten.service_accounts.create_token(
        "short", name="brief", scopes=["read:customers"], expires_at=soon
    )
    assert plain.expires_at is not None
    assert plain.token is not None
    with _client(tenant, plain.token) as scoped:
        scoped.customers.list()
        time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
        with pytest.raises(AuthenticationError):
            scoped.customers.list()


def test_a_token_never_carries_scopes_its_creator_lacks(tenant: Tenant) -> None:
    narrow = mint_key(tenant, ["write:tokens", "read:customers"])
    with _client(tenant, narrow) as client:
        client.service_accounts.create(name="limited", slug="limited")
        with pytest.raises(PermissionDeniedError):
            client.service_accounts.create_token("limited", name="x", scopes=["write:customers"])
        inherited = client.service_accounts.create_token("limited", name="all")
        assert sorted(inherited.scopes or []) == [
            "read:customers",
            "read:tokens",
            "write:tokens",
        ]
    # A key revokes only tokens it could have minted.
    with KaitenClient(base_url=tenant.server.base_url, token=tenant.key, max_retries=0) as full:
        wide = full.service_accounts.create_token("limited", name="wide", scopes=["write:licenses"])
    assert wide.slug is not None
    with _client(tenant, narrow) as client, pytest.raises(PermissionDeniedError):
        client.service_accounts.delete_token("limited", wide.slug)
    read_only = mint_key(tenant, ["read:tokens"])
    with _client(tenant, read_only) as client:
        assert [a.slug for a in client.service_accounts.list()] == ["limited"]
        with pytest.raises(PermissionDeniedError):
            client.service_accounts.create(name="no")


def test_bad_input_is_refused_by_name(kaiten: KaitenClient, api: httpx.Client) -> None:
    kaiten.service_accounts.create(name="strict", slug="strict")
    with pytest.raises(UnprocessableEntityError):
        kaiten.service_accounts.create(name="")
    with pytest.raises(UnprocessableEntityError):
        kaiten.service_accounts.create(name="x", slug="Not A Slug")
    with pytest.raises(UnprocessableEntityError):
        kaiten.service_accounts.create_token("strict", name="t", scopes=["read:billing"])  # type: ignore[list-item]
    with pytest.raises(UnprocessableEntityError):
        kaiten.service_accounts.create_token(
            "strict", name="t", expires_at=datetime.now(UTC) - timedelta(days=1)
        )
    for path, body, field in (
        ("/service-accounts", {"name": "a", "extra": 1}, "extra"),
        ("/service-accounts", {"name": "a" * 256}, "name"),
        ("/service-accounts/strict/tokens", {"name": "t", "scopes": ["*"]}, "scopes"),
        ("/service-accounts/strict/tokens", {"name": "t", "expiresAt": "soon"}, "expiresAt"),
        (
            "/service-accounts/strict/tokens",
            {"name": "t", "expiresAt": "2020-01-01T00:00:00Z"},
            "expiresAt",
        ),
    ):
        response = api.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text


def test_another_tenant_cannot_see_service_accounts(kaiten: KaitenClient, tenant: Tenant) -> None:
    kaiten.service_accounts.create(name="mine", slug="mine")
    token = kaiten.service_accounts.create_token("mine", name="t", slug="tok")
    other = new_tenant(tenant.server)
    with _client(other, other.key) as stranger:
        assert stranger.service_accounts.list() == []
        with pytest.raises(NotFoundError):
            stranger.service_accounts.get("mine")
        with pytest.raises(NotFoundError):
            stranger.service_accounts.list_tokens("mine")
        with pytest.raises(NotFoundError):
            stranger.service_accounts.update("mine", name="x")
        with pytest.raises(NotFoundError):
            stranger.service_accounts.create_token("mine", name="x")
        with pytest.raises(NotFoundError):
            stranger.service_accounts.delete_token("mine", "tok")
    assert [t.slug for t in kaiten.service_accounts.list_tokens("mine")] == [token.slug]


def test_async_round_trip(tenant: Tenant) -> None:
    async def run() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            created = await client.service_accounts.create(name="async bot")
            assert created.slug == "async-bot"
            await client.service_accounts.update("async-bot", name="Async bot")
            assert (await client.service_accounts.get("async-bot")).name == "Async bot"
            assert [a.slug for a in await client.service_accounts.list()] == ["async-bot"]
            plain = await client.service_accounts.create_token(
                "async-bot", name="t", scopes=["read:licenses"]
            )
            assert plain.token is not None and plain.slug is not None
            tokens = await client.service_accounts.list_tokens("async-bot")
            assert [t.slug for t in tokens] == [plain.slug]
            await client.service_accounts.delete_token("async-bot", plain.slug)
            assert await client.service_accounts.list_tokens("async-bot") == []

    asyncio.run(run())
