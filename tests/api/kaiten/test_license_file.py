"""Offline license files: issued over HTTP, verified offline by the CLI and the library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from kaitencloud import KaitenClient

from meterline.licensing import license_file
from tests.api.kaiten.test_sdk_flow import _setup


@pytest.fixture
def issued(kaiten: KaitenClient, api: httpx.Client) -> tuple[str, str]:
    _setup(kaiten)
    response = api.get("/instances/acme-prod/license-file")
    assert response.status_code == 200
    key = api.get("/license-files/signing-key").json()
    return response.text, key["publicKeyPem"]


def test_file_verifies_offline_and_holds_the_grants(issued: tuple[str, str]) -> None:
    text, pem = issued
    verified = license_file.verify(text, license_file.load_public_key(pem))
    payload = verified.payload
    assert payload["format"] == "meterline.license/v1"
    assert payload["keyId"] == verified.key_id
    assert payload["instance"]["slug"] == "acme-prod"
    assert payload["customer"]["slug"] == "acme"
    assert payload["license"] == {
        "id": payload["license"]["id"],
        "slug": "growth",
        "name": "Growth",
        "type": "PAID",
        "version": "1",
        "lifecycleState": "PUBLISHED",
    }
    assert (payload["validFrom"], payload["validUntil"]) == (
        "2026-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z",
    )
    grants = {g["entitlementSlug"]: g for g in payload["grants"]}
    assert grants["seats"]["value"] == {"type": "number", "value": 5}
    assert grants["seats"]["limitCapExceededOveragePercent"] == 20
    assert grants["sso"]["value"] == {"type": "boolean", "value": True}
    assert grants["api-calls"]["value"] == {"type": "number", "value": -1}
    assert grants["api-calls"]["resetPeriod"] == "MONTH"


def test_every_changed_byte_fails(issued: tuple[str, str]) -> None:
    text, pem = issued
    key = license_file.load_public_key(pem)
    data = text.encode("ascii")
    for index in range(len(data)):
        for replacement in {data[index] ^ 0x01, data[index] ^ 0x20}:
            changed = data[:index] + bytes([replacement]) + data[index + 1 :]
            with pytest.raises(license_file.LicenseFileError):
                license_file.verify(changed.decode("latin-1"), key)
    with pytest.raises(license_file.LicenseFileError):
        license_file.verify(text + "\n", key)
    with pytest.raises(license_file.LicenseFileError):
        license_file.verify(text[:-1], key)


def test_another_environments_key_fails(issued: tuple[str, str]) -> None:
    text, _ = issued
    other = license_file.load_private_key(license_file.new_private_key_pem()).public_key()
    with pytest.raises(license_file.LicenseFileError):
        license_file.verify(text, other)


def test_cli_verifies_and_prints_grants(issued: tuple[str, str], tmp_path: Path) -> None:
    text, pem = issued
    lic = tmp_path / "acme-prod.lic"
    lic.write_text(text)
    key = tmp_path / "key.pem"
    key.write_text(pem)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "meterline",
            "license",
            "verify",
            str(lic),
            "--public-key",
            str(key),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "signature valid" in ok.stdout
    lines = {
        line.split()[0]: line.split()[1:]
        for line in ok.stdout.splitlines()
        if line.startswith("  ")
    }
    assert lines == {
        "seats": ["NUMBER", "5"],
        "sso": ["BOOLEAN", "True"],
        "api-calls": ["NUMBER", "unlimited"],
    }
    lic.write_text(text.replace("\n", "\n\n", 1))
    bad = subprocess.run(
        [sys.executable, "-m", "meterline", "license", "verify", str(lic), "--public-key", pem],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "INVALID" in bad.stderr
    # No byte may change: a copy with CRLF line endings (a Windows editor, a mail) is refused.
    lic.write_bytes(text.replace("\n", "\r\n").encode())
    crlf = subprocess.run(
        [sys.executable, "-m", "meterline", "license", "verify", str(lic), "--public-key", pem],
        capture_output=True,
        text=True,
        check=False,
    )
    assert crlf.returncode == 1
    assert "INVALID" in crlf.stderr
