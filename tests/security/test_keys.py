"""API keys: random with 256 bits of entropy, stored only as a SHA-256 hash, refused on
the very next request after revocation, and never written to a log."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import BOOTSTRAP_KEY, Server, Tenant, free_port
from tests.security.conftest import mint


def _engine(server: Server):  # type: ignore[no-untyped-def]
    return create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_keys_are_random_with_256_bits_and_stored_only_as_a_hash(tenant: Tenant) -> None:
    minted = [mint(tenant) for _ in range(20)]
    plaintexts = [key for key, _ in minted]
    assert len(set(plaintexts)) == 20
    for key in plaintexts:
        prefix, _, secret = key.partition("_")
        assert prefix == "sk"
        assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    engine = _engine(tenant.server)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM api_keys WHERE environment_id = :env"),
            {"env": tenant.environment_id},
        ).mappings()
        stored = {row["id"]: row for row in rows}
    engine.dispose()
    for key, key_id in minted:
        row = stored[key_id]
        assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
        # No column holds the key or a recoverable part of it (the display id shows
        # 5 + 2 characters, as Flexprice does).
        assert all(key not in str(value) for value in row.values())
        assert row["display_id"] == f"{key[:5]}***{key[-2:]}"


def test_the_key_is_nowhere_in_the_sqlite_file(tenant: Tenant) -> None:
    if not tenant.server.database_url.startswith("sqlite"):
        return  # the PostgreSQL case is the row check above
    key, _ = mint(tenant)
    with tenant.client() as http:
        http.post("/v1/customers", json={"external_id": "k", "name": "k"})
    path = Path(tenant.server.database_url.removeprefix("sqlite:///"))
    for file in (path, Path(f"{path}-wal")):
        if file.exists():
            assert key.encode() not in file.read_bytes()


def test_revocation_takes_effect_on_the_next_request(tenant: Tenant) -> None:
    key, key_id = mint(tenant)
    base = tenant.server.base_url
    bearer = {"Authorization": f"Bearer {key}"}
    event = {"event_name": "e", "external_customer_id": "c"}
    assert httpx.get(base + "/v1/customers", headers=bearer).status_code == 200
    assert httpx.get(base + "/api/customers", headers=bearer).status_code == 200
    assert httpx.post(base + "/v1/events", json=event, headers=bearer).status_code == 202
    with tenant.client() as http:
        assert http.delete(f"/v1/secrets/api/keys/{key_id}").status_code == 204
    assert httpx.get(base + "/v1/customers", headers=bearer).status_code == 401
    assert httpx.get(base + "/api/customers", headers=bearer).status_code == 401
    assert httpx.post(base + "/v1/events", json=event, headers=bearer).status_code == 401
    assert httpx.get(base + "/v1/usage", headers=bearer).status_code == 401
    # A revoked key stays revoked: revoking twice is a 404, not a resurrection.
    with tenant.client() as http:
        assert http.delete(f"/v1/secrets/api/keys/{key_id}").status_code == 404


def test_a_key_differing_in_one_character_is_refused(tenant: Tenant) -> None:
    last = tenant.key[-1]
    near = tenant.key[:-1] + ("A" if last != "A" else "B")
    for candidate in (near, tenant.key[:-1], tenant.key + "x", tenant.key.upper()):
        response = httpx.get(
            tenant.server.base_url + "/v1/customers", headers={"x-api-key": candidate}
        )
        assert response.status_code == 401


def test_keys_never_appear_in_logs(tmp_path: Path) -> None:
    """A server logging at debug level, answering good, bad, revoked and failing requests,
    and rejecting a key on every surface: its log holds none of the keys."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "METERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
        "METERLINE_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meterline",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "debug",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        server = Server(base, env["METERLINE_DATABASE_URL"], BOOTSTRAP_KEY, process, log_path)
        from tests.conftest import new_tenant

        tenant = new_tenant(server)
        revoked, revoked_id = mint(tenant)
        with tenant.client() as http:
            http.delete(f"/v1/secrets/api/keys/{revoked_id}")
        wrong = "sk_" + "Z" * 43
        for key in (tenant.key, revoked, wrong, BOOTSTRAP_KEY):
            for header in ({"x-api-key": key}, {"Authorization": f"Bearer {key}"}):
                httpx.get(base + "/v1/customers", headers=header)
                httpx.get(base + "/api/customers", headers=header)
                httpx.get(base + "/v1/usage", headers=header)
                httpx.post(base + "/v1/events", content=b"{not json", headers=header)
                httpx.post(base + "/v1/customers", json={"name": 1}, headers=header)
                httpx.get(base + "/v1/nowhere", headers=header)
    finally:
        process.terminate()
        process.wait(timeout=15)
    logged = log_path.read_text()
    assert logged  # the server did log (debug level): the check below has something to read
    for key in (tenant.key, revoked, wrong, BOOTSTRAP_KEY):
        assert key not in logged


def _flexprice_403(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["http_status_code"] == 403 and body["code"], body
    return str(body["message"])


def test_a_key_revokes_only_keys_it_could_have_minted(tenant: Tenant) -> None:
    admin, admin_id = mint(tenant)  # every right: "*"
    billing, _ = mint(tenant, scopes=["write:billing"])
    _, licensing_id = mint(tenant, scopes=["write:licenses"])
    _, reader_id = mint(tenant, scopes=["read:billing"])
    _, peer_id = mint(tenant, scopes=["write:billing"])
    with tenant.server.client(billing) as http:
        assert "*" in _flexprice_403(http.delete(f"/v1/secrets/api/keys/{admin_id}"))
        assert "write:licenses" in _flexprice_403(
            http.delete(f"/v1/secrets/api/keys/{licensing_id}")
        )
        # Keys it could have minted: a narrower one and one with its own rights.
        assert http.delete(f"/v1/secrets/api/keys/{reader_id}").status_code == 204
        assert http.delete(f"/v1/secrets/api/keys/{peer_id}").status_code == 204
    with tenant.server.client(admin) as http:
        assert http.get("/v1/customers").status_code == 200  # still alive
        live = {k["id"] for k in http.get("/v1/secrets/api/keys").json()["items"]}
        assert {admin_id, licensing_id} <= live and not {reader_id, peer_id} & live
        # The full-rights key revokes any key of its environment.
        assert http.delete(f"/v1/secrets/api/keys/{licensing_id}").status_code == 204


def test_an_environment_key_cannot_create_or_change_other_environments(tenant: Tenant) -> None:
    billing, _ = mint(tenant, scopes=["write:billing"])
    with tenant.server.client(tenant.server.bootstrap_key) as admin:
        other = admin.post("/v1/environments", json={"name": "other", "type": "development"})
        assert other.status_code == 201, other.text
    other_id = other.json()["id"]
    with tenant.server.client(billing) as http:
        created = http.post("/v1/environments", json={"name": "mine", "type": "production"})
        _flexprice_403(created)
        renamed = http.put(f"/v1/environments/{other_id}", json={"name": "taken"})
        _flexprice_403(renamed)
        # Its own environment is its own to rename.
        own = http.put(f"/v1/environments/{tenant.environment_id}", json={"name": "renamed"})
        assert own.status_code == 200 and own.json()["name"] == "renamed", own.text
    with tenant.server.client(tenant.server.bootstrap_key) as admin:
        assert admin.get(f"/v1/environments/{other_id}").json()["name"] == "other"
        names = [e["name"] for e in admin.get("/v1/environments").json()["environments"]]
        assert "mine" not in names
    # A full-rights key bound to one environment has the organization's rights.
    with tenant.client() as http:
        changed = http.put(f"/v1/environments/{other_id}", json={"name": "by admin"})
        assert changed.status_code == 200, changed.text
