"""The reference verifier, pure: enforcement modes and grace windows as a table of exact
decisions, machine binding, pinned keys that cannot be mislabelled, and refusals."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meterline.licensing import license_file
from meterline.licensing.license_file import LicenseFileError
from meterline.licensing.verifier import LICENSE_LABEL, Verifier

KEY = Ed25519PrivateKey.generate()
KID = license_file.key_id(KEY.public_key())
PINNED = {KID: base64.b64encode(license_file.public_key_raw(KEY.public_key())).decode()}
T0 = datetime(2027, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _file(mode: str = "enforce", grace_days: int = 7, **extra: Any) -> str:
    payload = {
        "format": "meterline.license/v2",
        "kid": KID,
        "fileId": "lfile_x",
        "issuedAt": "2027-01-01T00:00:00Z",
        "expiresAt": "2027-01-31T00:00:00Z",  # the file ends before the license
        "refreshAfter": "2027-01-16T00:00:00Z",
        "enforcement": {"mode": mode, "graceSeconds": grace_days * 86400},
        "machine": None,
        "validFrom": "2027-01-01T00:00:00Z",
        "validUntil": "2028-01-01T00:00:00Z",
        **extra,
    }
    return license_file.sign_document(LICENSE_LABEL, payload, KEY)


# (mode, days after T0, status, allowed, notice, refresh due)
CASES = [
    ("enforce", -1, "NOT_YET_VALID", False, "warn", False),
    ("enforce", 0, "VALID", True, "none", False),
    ("enforce", 15, "VALID", True, "none", True),  # refreshAfter has passed
    ("enforce", 30, "GRACE", True, "warn", True),  # expiresAt is exclusive
    ("enforce", 36, "GRACE", True, "warn", True),
    ("enforce", 37, "EXPIRED", False, "warn", True),  # grace ends after 7 days
    ("warn", 37, "EXPIRED", True, "warn", True),
    ("log", 37, "EXPIRED", True, "log", True),
    ("log", 30, "GRACE", True, "log", True),
    ("warn", -1, "NOT_YET_VALID", True, "warn", False),
]


@pytest.mark.parametrize(("mode", "days", "status", "allowed", "notice", "refresh"), CASES)
def test_decisions(
    mode: str, days: int, status: str, allowed: bool, notice: str, refresh: bool
) -> None:
    decision = Verifier(PINNED).verify(_file(mode), now=T0 + days * DAY)
    assert (decision.status, decision.allowed, decision.notice, decision.refresh_due) == (
        status,
        allowed,
        notice,
        refresh,
    )
    assert decision.ends_at == datetime(2027, 1, 31, tzinfo=UTC)
    assert decision.grace_ends_at == datetime(2027, 2, 7, tzinfo=UTC)


def test_no_grace_and_the_license_end_bound_the_file() -> None:
    text = _file(grace_days=0, validUntil="2027-01-10T00:00:00Z")
    verifier = Verifier(PINNED)
    last = T0 + 9 * DAY - timedelta(microseconds=1)
    assert verifier.verify(text, now=last).status == "VALID"
    assert verifier.verify(text, now=T0 + 9 * DAY).status == "EXPIRED"  # validUntil is exclusive


def test_machine_binding() -> None:
    text = _file(machine={"id": "mach_1", "fingerprint": "fp-a"})
    verifier = Verifier(PINNED)
    assert verifier.verify(text, now=T0, fingerprint="fp-a").status == "VALID"
    for other in ("fp-b", None):
        decision = verifier.verify(text, now=T0, fingerprint=other)
        assert (decision.status, decision.allowed) == ("MACHINE_MISMATCH", False)
    logged = Verifier(PINNED).verify(
        _file("log", machine={"id": "m", "fingerprint": "fp-a"}), now=T0, fingerprint="fp-b"
    )
    assert (logged.status, logged.allowed, logged.notice) == ("MACHINE_MISMATCH", True, "log")


def test_refusals() -> None:
    text = _file()
    other = Ed25519PrivateKey.generate()
    other_kid = license_file.key_id(other.public_key())
    raw_other = base64.b64encode(license_file.public_key_raw(other.public_key())).decode()
    with pytest.raises(LicenseFileError, match="does not trust"):
        Verifier({other_kid: raw_other}).verify(text, now=T0)
    with pytest.raises(LicenseFileError, match="not the key of that id"):
        Verifier({KID: raw_other})  # a mislabelled pin
    with pytest.raises(LicenseFileError):
        Verifier({})
    forged = license_file.sign_document(
        LICENSE_LABEL, {"format": "meterline.license/v2", "kid": KID}, other
    )
    with pytest.raises(LicenseFileError, match="signature"):
        Verifier(PINNED).verify(forged, now=T0)
    data = text.encode()
    changed = data[:40] + bytes([data[40] ^ 1]) + data[41:]
    with pytest.raises(LicenseFileError):
        Verifier(PINNED).verify(changed.decode("latin-1"), now=T0)
    bad_mode = license_file.sign_document(
        LICENSE_LABEL,
        {**_payload_of(text), "enforcement": {"mode": "ignore", "graceSeconds": 0}},
        KEY,
    )
    with pytest.raises(LicenseFileError, match="enforcement"):
        Verifier(PINNED).verify(bad_mode, now=T0)


def _payload_of(text: str) -> dict[str, Any]:
    return license_file.unarmour(text, LICENSE_LABEL).document


def test_v1_files_verify() -> None:
    payload = {
        "format": "meterline.license/v1",
        "keyId": KID,
        "validFrom": "2027-01-01T00:00:00Z",
        "validUntil": "2027-02-01T00:00:00Z",
    }
    text = license_file.sign(payload, KEY)
    decision = Verifier(PINNED).verify(text, now=T0 + DAY)
    assert (decision.status, decision.mode, decision.format) == (
        "VALID",
        "enforce",
        "meterline.license/v1",
    )
    assert Verifier(PINNED).verify(text, now=T0 + 31 * DAY).status == "EXPIRED"
