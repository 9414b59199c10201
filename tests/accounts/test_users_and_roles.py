"""Users, service accounts and roles through the SDK, and the role matrix: a key of a
service account of each role against a sample of routes of every area, on /v1 and /api."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors as fp_errors
from sqlalchemy import create_engine, text

from meterline.accounts import passwords
from meterline.accounts.roles import ROLES, area_of, scopes_of
from tests.conftest import Server, Tenant, unique


def _sdk(tenant: Tenant, key: str | None = None) -> Flexprice:
    return Flexprice(server_url=tenant.server.base_url + "/v1", api_key_auth=key or tenant.key)


def _password_hash(server: Server, user_id: str) -> str:
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT password_hash FROM users WHERE id = :id"), {"id": user_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return str(found)


def test_passwords_are_argon2id_and_weak_ones_are_refused_with_the_rule() -> None:
    assert passwords.weakness("short") == "must have at least 12 characters"
    assert passwords.weakness("a" * 300) == "must have at most 256 characters"
    assert passwords.weakness("abababababab") == "must have at least 5 different characters"
    assert passwords.weakness("Password1234") == "is a common password"
    assert passwords.weakness("xx-jane.doe-2026!", email="jane.doe@example.com") == (
        "must not contain the user's name or email"
    )
    assert passwords.weakness("correct horse battery staple") is None
    generated = passwords.generate()
    stored = passwords.hash_password(generated)
    assert stored.startswith("$argon2id$") and generated not in stored
    assert passwords.verify(stored, generated) and not passwords.verify(stored, generated + "x")
    assert not passwords.verify(None, generated) and not passwords.verify("garbage", generated)
    assert not passwords.needs_rehash(stored)


def test_users_service_accounts_and_roles_through_the_sdk(tenant: Tenant) -> None:
    sdk = _sdk(tenant)
    listed = sdk.rbac.list_rbac_roles()
    assert [r["id"] for r in listed["items"]] == list(ROLES)
    only_accounts = sdk.rbac.list_rbac_roles(user_type="service_account")["items"]
    assert "owner" not in [r["id"] for r in only_accounts]
    finance = sdk.rbac.get_rbac_role(id="finance")
    assert finance["permissions"] == ["read:*", "write:finance"]
    with pytest.raises(fp_errors.FlexpriceDefaultError):
        sdk.rbac.get_rbac_role(id="nope")

    # The organization keeps an owner: its only one cannot be demoted.
    me = sdk.users.get_user_info()
    assert me.roles == ["owner"]
    with pytest.raises(fp_errors.ErrorResponse, match="at least one owner"):
        sdk.users.update_user_roles(id=me.id, roles=["admin"])

    email = f"{unique('jane')}@example.com"
    person = sdk.users.create_user(type_="user", email=email, name="Jane", roles=["finance"])
    assert (person.email, person.roles, person.type) == (email, ["finance"], "user")
    assert person.password and passwords.weakness(person.password) is None
    stored = _password_hash(tenant.server, person.id)
    assert stored.startswith("$argon2id$") and passwords.verify(stored, person.password)
    for bad, field in (
        ({"type": "user", "email": email.upper()}, "email"),  # taken, whatever its case
        ({"type": "user", "email": "nobody"}, "email"),
        ({"type": "user", "email": "x@y.co", "roles": ["boss"]}, "roles"),
        ({"type": "service_account", "name": "bot", "roles": ["owner"]}, "roles"),
        ({"type": "service_account", "name": "bot", "email": "a@b.co"}, "email"),
        ({"type": "robot", "name": "bot"}, "type"),
    ):
        with tenant.client() as http:
            refused = http.post("/v1/users", json=bad)
        assert refused.status_code == 400, (bad, refused.text)
        details = refused.json()["details"]  # a rule's refusal, or the schema's
        assert field in (details.get("field"), *details), (bad, details)

    bot = sdk.users.create_user(type_="service_account", name="CI bot", roles=["developer"])
    assert (bot.type, bot.roles, bot.password) == ("service_account", ["developer"], None)
    renamed = sdk.users.update_service_account(id=bot.id, name="Deploy bot")
    assert renamed.name == "Deploy bot"
    found = sdk.users.query_user(user_ids=[person.id, bot.id], type_="service_account")
    assert [u.id for u in found.items] == [bot.id]
    by_role = sdk.users.query_user(user_ids=[person.id, bot.id], roles=["finance"])
    assert [u.id for u in by_role.items] == [person.id]
    assert sdk.users.update_user_roles(id=bot.id, roles=["read_only"]).roles == ["read_only"]
    me = sdk.users.update_user(name="The Owner", metadata={"team": "ops"})
    assert (me.name, me.metadata) == ("The Owner", {"team": "ops"})

    sdk.users.remove_user(id=person.id)
    sdk.users.delete_service_account(id=bot.id)
    assert sdk.users.query_user(user_ids=[person.id, bot.id]).items == []
    gone = sdk.users.query_user(user_ids=[person.id, bot.id], status="deleted")
    assert {u.id for u in gone.items} == {person.id, bot.id}
    with pytest.raises(fp_errors.ErrorResponse):
        sdk.users.remove_user(id=person.id)  # already gone: 404
    with pytest.raises(fp_errors.ErrorResponse):
        sdk.users.delete_service_account(id=me.id)  # a person is not a service account


# (method, path, body) -> the role areas it belongs to; ``{customer}`` is filled in.
SAMPLE: list[tuple[str, str, Any]] = [
    ("GET", "/v1/webhooks/endpoints", None),
    ("GET", "/v1/secrets/api/keys", None),
    ("POST", "/v1/invoices/search", lambda: {"limit": 1}),  # a search is a read
    ("POST", "/v1/customers", lambda: {"external_id": unique("c"), "name": "C"}),
    (
        "POST",
        "/v1/invoices",
        lambda c: {
            "customer_id": c,
            "currency": "usd",
            "amount_due": "1",
            "subtotal": "1",
            "total": "1",
        },
    ),
    ("POST", "/v1/features", lambda: {"name": "F", "type": "boolean", "lookup_key": unique("f")}),
    ("POST", "/v1/webhooks/endpoints", lambda: {"url": "https://hooks.example.com/in"}),
    ("POST", "/v1/secrets/api/keys", lambda: {"name": "k", "scopes": ["read:*"]}),
    ("POST", "/v1/users", lambda: {"type": "service_account", "name": "b", "roles": ["read_only"]}),
    ("POST", "/v1/environments", lambda: {"name": unique("env"), "type": "development"}),
    ("GET", "/api/licenses", None),
    ("POST", "/api/customers", lambda: {"name": "K", "slug": unique("kc")}),
]
# Which roles may do each sample operation (the rest are refused with a 403).
EXPECTED = {
    "GET /v1/webhooks/endpoints": set(ROLES),
    "GET /v1/secrets/api/keys": set(ROLES),
    "POST /v1/invoices/search": set(ROLES),
    "POST /v1/customers": {"owner", "admin", "finance"},
    "POST /v1/invoices": {"owner", "admin", "finance"},
    "POST /v1/features": {"owner", "admin", "developer"},
    "POST /v1/webhooks/endpoints": {"owner", "admin", "developer"},
    "POST /v1/secrets/api/keys": {"owner", "admin", "developer"},
    "POST /v1/users": {"owner", "admin"},
    "POST /v1/environments": {"owner"},
    "GET /api/licenses": set(ROLES),
    "POST /api/customers": {"owner", "admin", "developer"},
}


def _call(tenant: Tenant, key: str, method: str, path: str, body: Any, customer: str) -> int:
    payload = None
    if body is not None:
        payload = body(customer) if body.__code__.co_argcount else body()
    headers = {"x-api-key": key} if path.startswith("/v1") else {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=tenant.server.base_url, headers=headers, timeout=30) as http:
        response = http.request(method, path, json=payload)
    assert response.status_code < 500, (method, path, response.text)
    return response.status_code


def test_the_role_matrix_over_a_sample_of_routes(tenant: Tenant) -> None:
    assert area_of("/v1/invoices/inv_1/finalize") == "finance"
    assert area_of("/v1/features/search") == "developer" and area_of("/v1/users") is None
    keys = {"owner": tenant.key}
    accounts: dict[str, str] = {}
    with tenant.client() as http:
        customer = http.post("/v1/customers", json={"external_id": unique("m"), "name": "M"})
        for role in ("admin", "finance", "developer", "read_only"):
            made = http.post(
                "/v1/users", json={"type": "service_account", "name": role, "roles": [role]}
            )
            assert made.status_code == 201, made.text
            accounts[role] = made.json()["id"]
            minted = http.post(
                "/v1/secrets/api/keys", json={"name": role, "service_account_id": accounts[role]}
            )
            assert minted.status_code == 201, minted.text
            assert minted.json()["secret"]["permissions"] == scopes_of([role])
            keys[role] = minted.json()["api_key"]
    got: dict[str, set[str]] = {}
    for method, path, body in SAMPLE:
        label = f"{method} {path}"
        got[label] = set()
        for role, key in keys.items():
            status = _call(tenant, key, method, path, body, customer.json()["id"])
            if status != 403:
                assert status in (200, 201), (label, role, status)
                got[label].add(role)
    assert got == EXPECTED

    # No escalation: a key grants only roles and scopes it holds itself.
    admin = keys["admin"]
    with httpx.Client(
        base_url=tenant.server.base_url, headers={"x-api-key": admin}, timeout=30
    ) as http:
        owner = http.post("/v1/users", json={"type": "user", "email": "o@x.co", "roles": ["owner"]})
        assert owner.status_code == 403 and "owner" in owner.json()["message"]
        assert (
            http.post("/v1/secrets/api/keys", json={"name": "all", "scopes": ["*"]}).status_code
            == 403
        )
        promote = http.put(f"/v1/users/{accounts['read_only']}/roles", json={"roles": ["owner"]})
        assert promote.status_code == 400  # a service account is never an owner
        assert http.put(f"/v1/users/{accounts['finance']}/roles", json={}).status_code == 200
    narrow = httpx.post(
        tenant.server.base_url + "/v1/secrets/api/keys",
        headers={"x-api-key": tenant.key},
        json={
            "name": "x",
            "service_account_id": accounts["read_only"],
            "scopes": ["write:billing"],
        },
    )
    assert narrow.status_code == 403  # more than the service account's roles hold

    # A change of roles re-bounds the account's keys at once; removal revokes them.
    developer = keys["developer"]
    feature = next(s for s in SAMPLE if s[1] == "/v1/features")
    assert _call(tenant, developer, *feature, "") == 201
    _sdk(tenant).users.update_user_roles(id=accounts["developer"], roles=["read_only"])
    assert _call(tenant, developer, *feature, "") == 403
    assert _call(tenant, developer, "GET", "/v1/webhooks/endpoints", None, "") == 200
    _sdk(tenant).users.delete_service_account(id=accounts["developer"])
    assert _call(tenant, developer, "GET", "/v1/webhooks/endpoints", None, "") == 401
