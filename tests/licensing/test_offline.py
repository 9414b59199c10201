"""Offline activation and usage bundles over HTTP on SQLite and PostgreSQL, the installation
played in-process by ``licensing/installation.py``: one machine per request, replayed and
altered requests refused, responses to another request refused by the installation,
bundles imported once and in sequence (replays count nothing, gaps are named, unknown keys
and changed bundles are refused, nothing changed), and a refreshed license file when due."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meterline.db.engine import Database
from meterline.licensing import license_file, offline, offline_files
from meterline.licensing.installation import Installation
from meterline.licensing.offline_files import OfflineFileError
from tests.conftest import Tenant
from tests.licensing.conftest import licensed_instance, principal_of


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


def _vendor_keys(api: httpx.Client) -> dict[str, str]:
    keys = api.get("/.well-known/meterline-license-keys.json").json()["keys"]
    return {k["kid"]: k["publicKey"] for k in keys}


def _license_key(api: httpx.Client, instance: str, **terms: object) -> str:
    issued = api.post(f"/instances/{instance}/license-files", json=terms)
    assert issued.status_code == 201, issued.text
    return issued.headers["License-File-Id"]


def _usage(api: httpx.Client, instance: str, entitlement: str) -> Decimal:
    response = api.get(f"/instances/{instance}/entitlements/{entitlement}/usage")
    assert response.status_code == 200, response.text
    return Decimal(str(response.json()["value"]["value"]))


def _activate(api: httpx.Client, request: str) -> httpx.Response:
    return api.post("/offline/activations", json={"request": request})


def _import(api: httpx.Client, bundle: str) -> httpx.Response:
    return api.post("/offline/usage-bundles", json={"bundle": bundle})


def test_offline_activation(api: httpx.Client, tmp_path: Path) -> None:
    instance, _ = licensed_instance(api, {"maxMachines": 2})
    key = _license_key(api, instance, lifetimeSeconds=86400, enforcement="warn")
    vendor = _vendor_keys(api)
    now = datetime.now(UTC)
    box = Installation(tmp_path / "a", vendor, "fp-a")
    request = box.request_activation(key, now, hostname="a.local", cores=4)

    activated = _activate(api, request)
    assert activated.status_code == 201, activated.text
    body = activated.json()
    decision = box.accept_response(body["response"], now)
    assert (decision.status, decision.mode) == ("VALID", "warn")
    assert decision.payload["machine"]["fingerprint"] == "fp-a"
    assert box.check(now).status == "VALID"
    machines = api.get(f"/instances/{instance}/machines").json()["items"]
    assert [(m["fingerprint"], m["hostname"], m["cores"]) for m in machines] == [
        ("fp-a", "a.local", 4)
    ]

    # a replay creates nothing; a changed byte is refused; so is an unknown license key
    assert _code(_activate(api, request)) == (409, "ActivateOffline.RequestReplayed")
    data = request.encode()
    changed = data[:80] + bytes([data[80] ^ 1]) + data[81:]
    assert _code(_activate(api, changed.decode("latin-1")))[1] == (
        "ActivateOffline.InvalidRequestFile"
    )
    other = Installation(tmp_path / "b", vendor, "fp-b")
    assert _code(_activate(api, other.request_activation("lfile_nope", now))) == (
        404,
        "ActivateOffline.LicenseKeyNotFound",
    )
    assert len(api.get(f"/instances/{instance}/machines").json()["items"]) == 1

    # an installation takes only the response to its own request
    third = Installation(tmp_path / "c", vendor, "fp-c")
    third.request_activation(key, now)
    with pytest.raises(OfflineFileError, match="another request"):
        third.accept_response(body["response"], now)
    # and only a response the pinned vendor keys signed
    foreign = Ed25519PrivateKey.generate()
    forged = offline_files.write_response(
        foreign,
        "0" * 16,
        offline_files.read_request(request),
        activation_id="x",
        instance_slug=instance,
        machine_id="m",
        license_text="",
        issued_at=now,
    )
    with pytest.raises(OfflineFileError, match="does not trust"):
        Installation(tmp_path / "d", vendor, "fp-a").accept_response(forged, now)
    # copies of one request sent at once: one machine, every other copy a replay
    sixth = Installation(tmp_path / "g", vendor, "fp-g")
    copies = [sixth.request_activation(key, now)] * 6
    with ThreadPoolExecutor(6) as pool:
        answers = [
            _code(r) if r.status_code != 201 else (201, "")
            for r in pool.map(lambda text: _activate(api, text), copies)
        ]
    assert sorted(answers) == [(201, "")] + [(409, "ActivateOffline.RequestReplayed")] * 5
    gone = api.get(f"/instances/{instance}/machines").json()["items"]
    assert [m["fingerprint"] for m in gone].count("fp-g") == 1
    assert api.delete(f"/instances/{instance}/machines/{gone[-1]['id']}").status_code == 204

    # the machine limit holds offline too
    fourth = Installation(tmp_path / "e", vendor, "fp-e")
    assert _activate(api, fourth.request_activation(key, now)).status_code == 201
    fifth = Installation(tmp_path / "f", vendor, "fp-f")
    assert _code(_activate(api, fifth.request_activation(key, now))) == (
        409,
        "ActivateOffline.MachineLimitReached",
    )


def test_usage_bundles(api: httpx.Client, tenant: Tenant, db: Database, tmp_path: Path) -> None:
    instance, entitlement = licensed_instance(api, {})
    # a file due for refresh at once: its lifetime is the shortest, refreshAfter half of it
    key = _license_key(api, instance, lifetimeSeconds=60)
    vendor = _vendor_keys(api)
    now = datetime.now(UTC)
    box = Installation(tmp_path / "a", vendor, "fp-a")
    activated = _activate(api, box.request_activation(key, now))
    assert activated.status_code == 201, activated.text
    box.accept_response(activated.json()["response"], now)

    box.record(entitlement, "append", Decimal("2.5"), now)
    box.record(entitlement, "append", Decimal(3), now)
    first = box.export_bundle(now)
    imported = _import(api, first)
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["sequence"], body["replayed"], body["accepted"], body["rejected"]) == (
        1,
        False,
        2,
        [],
    )
    assert body["licenseFile"] is None  # refreshAfter (30 s) has not passed
    assert _usage(api, instance, entitlement) == Decimal("5.5")
    again = _import(api, first)
    assert again.status_code == 200 and again.json()["replayed"] is True, again.text
    assert again.json()["accepted"] == 2
    assert _usage(api, instance, entitlement) == Decimal("5.5")  # counted once
    box.accept_ack(again.json()["acknowledgement"], now)
    assert box.unacknowledged() == {}

    box.record(entitlement, "set", Decimal(1), now)
    second = box.export_bundle(now)
    box.record(entitlement, "append", Decimal(4), now)
    third = box.export_bundle(now)
    gap = _import(api, third)
    assert _code(gap) == (409, "ImportUsageBundle.SequenceGap"), gap.text
    assert "bundle 2 is next" in gap.json()["detail"]
    assert _usage(api, instance, entitlement) == Decimal("5.5")  # nothing changed

    # another bundle 1 of the same installation; a bundle of an unknown key; a changed one
    forked = offline_files.write_bundle(
        box._key(),
        activation_id=box.state()["activationId"],
        sequence=1,
        created_at=now,
        reports=[],
    )
    assert _code(_import(api, forked)) == (409, "ImportUsageBundle.BundleConflict")
    stranger = offline_files.write_bundle(
        Ed25519PrivateKey.generate(),
        activation_id=box.state()["activationId"],
        sequence=2,
        created_at=now,
        reports=[],
    )
    assert _code(_import(api, stranger)) == (422, "ImportUsageBundle.UnknownKey")
    data = second.encode()
    changed = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    assert _code(_import(api, changed.decode("latin-1"))) == (
        422,
        "ImportUsageBundle.InvalidBundle",
    )
    unknown = offline_files.write_bundle(
        box._key(),
        activation_id=box.state()["activationId"],
        sequence=2,
        created_at=now,
        reports=[
            {
                "entitlement": "no-such",
                "behavior": "append",
                "value": "1",
                "recordedAt": "2027-01-01T00:00:00Z",
            }
        ],
    )
    assert _code(_import(api, unknown)) == (404, "ImportUsageBundle.ContextNotFound")
    assert _usage(api, instance, entitlement) == Decimal("5.5")

    with ThreadPoolExecutor(4) as pool:  # copies at once: imported once, the rest replays
        answers = [r.json() for r in pool.map(lambda text: _import(api, text), [second] * 4)]
    assert sorted(a["replayed"] for a in answers) == [False, True, True, True]
    assert {a["accepted"] for a in answers} == {1}
    assert _usage(api, instance, entitlement) == Decimal(1)  # set
    done = _import(api, third).json()
    assert (done["sequence"], done["accepted"]) == (3, 1)
    assert _usage(api, instance, entitlement) == Decimal(5)
    ledger = api.get(f"/instances/{instance}/entitlements/{entitlement}/usage/reports").json()
    assert [r["behavior"] for r in ledger] == ["append", "append", "set", "append"]
    assert ledger[0]["metadata"]["bundle"] == 1

    # over the hard limit (10): refused, recorded as refused, listed in the acknowledgement;
    # imported after refreshAfter, the acknowledgement carries a refreshed license file
    box.record(entitlement, "append", Decimal(100), now)
    fourth = box.export_bundle(now)
    later = datetime.now(UTC) + timedelta(seconds=31)
    with db.session() as session:
        done4 = offline.import_bundle(session, principal_of(tenant), fourth, later)
    assert (done4.accepted, done4.rejected) == (0, [0])
    assert done4.license_file is not None
    assert _usage(api, instance, entitlement) == Decimal(5)
    old_file = box.check(now).payload["fileId"]
    box.accept_ack(done4.acknowledgement, later)
    refreshed = box.check(later)
    assert refreshed.status == "VALID" and refreshed.payload["fileId"] != old_file
    assert refreshed.payload["machine"]["fingerprint"] == "fp-a"
    assert set(box.unacknowledged()) == {2, 3}  # their acknowledgements were not taken


def test_hostile_files_are_refused(api: httpx.Client) -> None:
    """Junk where a request or a bundle belongs: a 4xx in Kaiten's shape, never a 500."""
    key = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    good = offline_files.write_request(
        key, license_key="lfile_x", fingerprint="f", nonce="0" * 32, created_at=now
    )
    parts = license_file.unarmour(good, offline_files.REQUEST_LABEL)

    def signed(document: object, label: str = offline_files.REQUEST_LABEL) -> str:
        data = json.dumps(document).encode()
        return license_file.armour(label, data, key.sign(data))

    requests = [
        "x",
        good.replace("REQUEST", "RESPONSE"),
        signed([1, 2]),
        signed("[" * 100_000),
        license_file.armour(offline_files.REQUEST_LABEL, b"\xff\xfe", key.sign(b"\xff\xfe")),
        signed({**parts.document, "nonce": "XYZ"}),
        signed({**parts.document, "cores": 10**30}),
        signed({**parts.document, "installationKey": "!!"}),
        signed({**parts.document, "fingerprint": "f" * 300}),
        signed({**parts.document, "createdAt": "yesterday"}),
    ]
    for text in requests:
        response = _activate(api, text)
        assert response.status_code in (404, 409, 422), (text[:80], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    bundles = [
        "x",
        signed({"format": offline_files.BUNDLE_FORMAT}, offline_files.BUNDLE_LABEL),
        signed(
            {"format": offline_files.BUNDLE_FORMAT, "installationKid": "0" * 16},
            offline_files.BUNDLE_LABEL,
        ),
    ]
    for text in bundles:
        response = _import(api, text)
        assert response.status_code == 422, (text[:80], response.text)
    too_big = _import(api, "x" * (offline_files.MAX_BUNDLE_CHARS + 1))
    assert too_big.status_code in (413, 422), too_big.text
