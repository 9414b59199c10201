"""The `license_ops` offline-verify phase: the reference verifier (``licensing/verifier.py``)
deciding a v2 license file, in-process and offline, as the licensed software does at start.

The file is shaped like an issued one (a machine-bound v2 payload with --grants grants).
Each round verifies it from its text: decode, re-render, pick the pinned key by ``kid``,
check the Ed25519 signature, decide. The ceiling, measured in the same run: the Ed25519
verification of the same payload bytes alone (the verifier's logic taken out). One JSON
object; the goal is issue 22's (offline verify <= 1 ms per file).
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from meterline.licensing import license_file
from meterline.licensing.verifier import FORMAT_V2, LICENSE_LABEL, Verifier


def sample_file(key: Ed25519PrivateKey, grants: int) -> str:
    kid = license_file.key_id(key.public_key())
    payload = {
        "format": FORMAT_V2,
        "kid": kid,
        "fileId": "lfile_01JBENCH0000000000000000000",
        "issuedAt": "2027-01-01T00:00:00Z",
        "expiresAt": "2027-02-01T00:00:00Z",
        "refreshAfter": "2027-01-16T00:00:00Z",
        "enforcement": {"mode": "enforce", "graceSeconds": 604800},
        "machine": {"id": "mach_01JBENCH0000000000000000000", "fingerprint": "f" * 64},
        "environmentId": "env_01JBENCH0000000000000000000",
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2030-01-01T00:00:00Z",
        "instance": {"id": "inst_1", "slug": "acme-prod", "name": "Acme production"},
        "customer": {"id": "cust_1", "slug": "acme", "name": "Acme", "externalCustomerId": None},
        "license": {"id": "lic_1", "slug": "growth", "name": "Growth", "type": "PAID"},
        "grants": [
            {
                "entitlementSlug": f"feature-{i}",
                "entitlementName": f"Feature {i}",
                "entitlementType": "NUMBER",
                "value": {"type": "number", "value": 1000 + i},
                "limitCapExceededOveragePercent": 0,
                "aggregationMethod": "SUM",
                "resetPeriod": "MONTH",
                "resetAnchor": "CALENDAR",
            }
            for i in range(grants)
        ],
    }
    return license_file.sign_document(LICENSE_LABEL, payload, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--grants", type=int, default=20)
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    kid = license_file.key_id(public)
    text = sample_file(key, args.grants)
    verifier = Verifier({kid: base64.b64encode(license_file.public_key_raw(public)).decode()})
    now = datetime(2027, 1, 10, tzinfo=UTC)
    parts = license_file.unarmour(text, LICENSE_LABEL)

    assert verifier.verify(text, now=now, fingerprint="f" * 64).status == "VALID"
    started = time.perf_counter()
    for _ in range(args.rounds):
        verifier.verify(text, now=now, fingerprint="f" * 64)
    per_file = (time.perf_counter() - started) / args.rounds

    started = time.perf_counter()
    for _ in range(args.rounds):
        public.verify(parts.signature, parts.payload)
    ceiling = (time.perf_counter() - started) / args.rounds

    emit(
        bench="license_ops",
        phase="verify",
        rounds=args.rounds,
        file_bytes=len(text),
        grants=args.grants,
        verify_us=round(per_file * 1e6, 1),
        ceiling_us=round(ceiling * 1e6, 1),
        ratio_of_ceiling=round(ceiling / per_file, 3),
        goal_ms=1.0,
        within_goal=per_file <= 0.001,
    )


if __name__ == "__main__":
    main()
