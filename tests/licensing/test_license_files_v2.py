"""License files v2 over HTTP on SQLite and PostgreSQL: the published key set, v2 files
verified offline by the pinned verifier, machine-bound files, rotation (old files keep
verifying) and retirement (no longer published, refused), admin-only key operations, and v1
files still verifying with the original key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from meterline.licensing import license_file
from meterline.licensing.verifier import Verifier
from tests.api.kaiten.conftest import mint_key
from tests.cli.test_operator import cli
from tests.conftest import Tenant, new_tenant
from tests.licensing.conftest import licensed_instance


def _published(api: httpx.Client) -> dict[str, str]:
    response = api.get("/.well-known/meterline-license-keys.json")
    assert response.status_code == 200, response.text
    return {k["kid"]: k["publicKey"] for k in response.json()["keys"]}


def _issue(api: httpx.Client, instance: str, **body: object) -> httpx.Response:
    return api.post(f"/instances/{instance}/license-files", json=body)


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


def test_v2_files_rotation_and_retirement(api: httpx.Client, tenant: Tenant) -> None:
    instance, _ = licensed_instance(api, {"maxMachines": 3})
    keys = api.get("/.well-known/meterline-license-keys.json").json()["keys"]
    assert [(k["status"], k["alg"], k["crv"], k["kty"]) for k in keys] == [
        ("active", "EdDSA", "Ed25519", "OKP")
    ]
    original = keys[0]["kid"]
    # the set starts with the environment's original key: v1 files are signed by it
    v1 = api.get(f"/instances/{instance}/license-file").text
    v1_key = api.get("/license-files/signing-key").json()
    assert v1_key["keyId"] == original
    pinned = Verifier(_published(api))
    now = datetime.now(UTC)
    assert pinned.verify(v1, now=now).status == "VALID"

    issued = _issue(api, instance, lifetimeSeconds=3600, graceSeconds=600, enforcement="warn")
    assert issued.status_code == 201, issued.text
    assert issued.headers["content-type"].startswith("application/x-meterline-license")
    decision = pinned.verify(issued.text, now=now)
    payload = decision.payload
    assert (decision.status, decision.mode, decision.kid) == ("VALID", "warn", original)
    assert payload["fileId"] == issued.headers["License-File-Id"]
    assert payload["instance"]["slug"] == instance and payload["machine"] is None
    issued_at = datetime.fromisoformat(payload["issuedAt"].replace("Z", "+00:00"))
    assert payload["expiresAt"] == (issued_at + timedelta(hours=1)).isoformat().replace(
        "+00:00", "Z"
    )
    late = pinned.verify(issued.text, now=issued_at + timedelta(seconds=3700))
    assert (late.status, late.allowed) == ("GRACE", True)

    # machine-bound: only for a machine of the instance
    assert _code(_issue(api, instance, fingerprint="nope")) == (
        404,
        "IssueLicenseFile.MachineNotFound",
    )
    assert api.post(f"/instances/{instance}/machines", json={"fingerprint": "fp-1"}).is_success
    bound = _issue(api, instance, fingerprint="fp-1")
    assert bound.status_code == 201, bound.text
    assert pinned.verify(bound.text, now=now, fingerprint="fp-1").status == "VALID"
    assert pinned.verify(bound.text, now=now, fingerprint="fp-2").status == "MACHINE_MISMATCH"
    refused = _issue(api, instance, enforcement="never", lifetimeSeconds=10, extra=1)
    assert refused.status_code == 422, refused.text
    assert {e["location"] for e in refused.json()["errors"]} >= {
        "body.enforcement",
        "body.lifetimeSeconds",
        "body.extra",
    }

    # key operations are the vendor administrator's: a full-access key
    narrow = mint_key(tenant, ["write:licenses", "write:instances"])
    headers = {"Authorization": f"Bearer {narrow}"}
    assert _code(api.post("/license-files/signing-keys/rotate", headers=headers))[0] == 403
    rotated = api.post("/license-files/signing-keys/rotate")
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["active"]["kid"]
    assert rotated.json()["previous"]["kid"] == original and new != original
    assert rotated.json()["previous"]["status"] == "published"
    assert set(_published(api)) == {original, new}
    fresh = _issue(api, instance)
    both = Verifier(_published(api))
    assert both.verify(fresh.text, now=now).kid == new
    assert both.verify(issued.text, now=now).kid == original  # old files keep verifying
    check = api.post("/license-files/verify", json={"file": issued.text})
    assert check.status_code == 200 and check.json()["status"] == "VALID", check.text

    assert _code(api.post(f"/license-files/signing-keys/{new}/retire")) == (
        409,
        "RetireLicenseSigningKey.KeyActive",
    )
    assert _code(api.post("/license-files/signing-keys/0000000000000000/retire")) == (
        404,
        "RetireLicenseSigningKey.KeyNotFound",
    )
    assert (
        _code(api.post(f"/license-files/signing-keys/{original}/retire", headers=headers))[0] == 403
    )
    retired = api.post(f"/license-files/signing-keys/{original}/retire")
    assert retired.status_code == 200 and retired.json()["status"] == "retired", retired.text
    assert set(_published(api)) == {new}
    for old in (issued.text, v1):
        refusal = api.post("/license-files/verify", json={"file": old})
        assert _code(refusal) == (422, "VerifyLicenseFile.KeyRetired"), refusal.text
    assert api.post("/license-files/verify", json={"file": fresh.text}).status_code == 200
    garbage = api.post("/license-files/verify", json={"file": "not a license"})
    assert _code(garbage) == (422, "VerifyLicenseFile.InvalidFile")
    # a v1 file is still what it was: signed by the environment's original key
    assert license_file.verify(v1, license_file.load_public_key(v1_key["publicKeyPem"]))


def test_key_sets_are_per_environment(api: httpx.Client, tenant: Tenant) -> None:
    other = new_tenant(tenant.server)
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {other.key}"},
        timeout=30,
    ) as theirs:
        mine, their_keys = _published(api), _published(theirs)
        assert not set(mine) & set(their_keys)
        kid = next(iter(mine))
        assert _code(theirs.post(f"/license-files/signing-keys/{kid}/retire"))[0] == 404
    assert set(_published(api)) == set(mine)


def test_cli_rotates_and_retires(api: httpx.Client, tenant: Tenant) -> None:
    url = tenant.server.database_url
    env = tenant.environment_id
    first = set(_published(api))
    rotated = cli(url, "license", "keys", "rotate", "--environment", env)
    assert rotated.returncode == 0, rotated.stderr
    statuses = {k["kid"]: k["status"] for k in json.loads(rotated.stdout)}
    assert sorted(statuses.values()) == ["active", "published"]
    (old,) = first
    assert statuses[old] == "published" and set(_published(api)) == set(statuses)
    refused = cli(
        url,
        "license",
        "keys",
        "retire",
        "--environment",
        env,
        next(k for k, s in statuses.items() if s == "active"),
    )
    assert refused.returncode == 1 and "rotate before retiring" in refused.stderr
    retired = cli(url, "license", "keys", "retire", "--environment", env, old)
    assert retired.returncode == 0, retired.stderr
    assert old not in _published(api)
    unknown = cli(url, "license", "keys", "list", "--environment", "env_nope")
    assert unknown.returncode == 1 and "REFUSED" in unknown.stderr
