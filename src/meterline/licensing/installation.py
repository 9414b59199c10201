"""The installation's side of offline licensing, for air-gapped software: it only reads and
writes files in its own directory and never opens a connection.

* ``request_activation`` generates the installation's Ed25519 key (kept in
  ``installation.key``, mode 0600) and writes a request signed with it;
* ``accept_response`` takes the vendor's response only if the pinned vendor keys signed it
  and it answers this installation's own request (its SHA-256 and nonce), then keeps the
  machine-bound license file it carries;
* ``record`` appends a usage report (``append`` or ``set``) to the pending list;
* ``export_bundle`` seals the pending reports into the next bundle (sequence + 1), signed
  with the installation's key, and keeps it until it is acknowledged;
* ``accept_ack`` takes a vendor acknowledgement of one of those bundles (and the refreshed
  license file it may carry).

Every state change is written to a temporary file and renamed over ``state.json``, so a
crash leaves the previous state or the next, never half of one. The vendor's keys are
passed in code (pinned by the build), never read from this directory.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meterline.licensing import offline_files
from meterline.licensing.license_file import LicenseFileError, load_private_key, private_key_pem
from meterline.licensing.offline_files import OfflineFileError
from meterline.licensing.verifier import Decision, Verifier

KEY_FILE = "installation.key"
STATE_FILE = "state.json"
LICENSE_FILE = "license.lic"


class Installation:
    def __init__(self, directory: Path, vendor_keys: Mapping[str, str], fingerprint: str) -> None:
        self.directory = directory
        self.fingerprint = fingerprint
        self.verifier = Verifier(vendor_keys)
        directory.mkdir(parents=True, exist_ok=True)

    # --- files ---------------------------------------------------------------------------

    def _write(self, name: str, text: str, mode: int = 0o644) -> None:
        path = self.directory / name
        temporary = path.with_suffix(path.suffix + ".tmp")
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)

    def state(self) -> dict[str, Any]:
        path = self.directory / STATE_FILE
        if not path.exists():
            return {"nextSequence": 1, "pending": [], "outbox": {}}
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def _save(self, state: dict[str, Any]) -> None:
        self._write(STATE_FILE, json.dumps(state, sort_keys=True, indent=1))

    def _key(self) -> Ed25519PrivateKey:
        path = self.directory / KEY_FILE
        if not path.exists():
            self._write(KEY_FILE, private_key_pem(Ed25519PrivateKey.generate()), 0o600)
        return load_private_key(path.read_text(encoding="ascii"))

    # --- activation ----------------------------------------------------------------------

    def request_activation(
        self,
        license_key: str,
        now: datetime,
        *,
        hostname: str | None = None,
        platform: str | None = None,
        cores: int | None = None,
    ) -> str:
        """The request file's text (kept: only a response to it is accepted)."""
        state = self.state()
        if state.get("activationId"):
            raise OfflineFileError("this installation is activated already", "state")
        nonce = secrets.token_hex(16)
        text = offline_files.write_request(
            self._key(),
            license_key=license_key,
            fingerprint=self.fingerprint,
            nonce=nonce,
            created_at=now,
            hostname=hostname,
            platform=platform,
            cores=cores,
        )
        state.update(nonce=nonce, requestSha256=offline_files.sha256_of(text))
        self._save(state)
        return text

    def _vendor_document(self, text: str, label: str, form: str) -> dict[str, Any]:
        try:
            _kid, document = self.verifier.verified_payload(text, label)
        except LicenseFileError as exc:
            raise OfflineFileError(str(exc), "signature") from exc
        if document.get("format") != form:
            raise OfflineFileError(f"the file is not a {form} document", "format")
        return document

    def accept_response(self, text: str, now: datetime) -> Decision:
        """Activate from the vendor's response to this installation's request."""
        state = self.state()
        document = self._vendor_document(
            text, offline_files.RESPONSE_LABEL, offline_files.RESPONSE_FORMAT
        )
        if (
            document.get("requestSha256") != state.get("requestSha256")
            or document.get("nonce") != state.get("nonce")
            or state.get("nonce") is None
        ):
            raise OfflineFileError("the response answers another request", "requestSha256")
        license_text = document.get("licenseFile")
        if not isinstance(license_text, str):
            raise OfflineFileError("the response carries no license file", "licenseFile")
        decision = self._take_license(license_text, now)
        state.update(activationId=document["activationId"], machine=document.get("machine"))
        self._save(state)
        return decision

    def _take_license(self, text: str, now: datetime) -> Decision:
        try:
            decision = self.verifier.verify(text, now=now, fingerprint=self.fingerprint)
        except LicenseFileError as exc:
            raise OfflineFileError(str(exc), "licenseFile") from exc
        if decision.status == "MACHINE_MISMATCH":
            raise OfflineFileError("the license file is bound to another machine", "licenseFile")
        self._write(LICENSE_FILE, text)
        return decision

    def check(self, now: datetime) -> Decision:
        """The decision of the license file kept here."""
        text = (self.directory / LICENSE_FILE).read_text(encoding="utf-8")
        return self.verifier.verify(text, now=now, fingerprint=self.fingerprint)

    # --- usage ---------------------------------------------------------------------------

    def record(self, entitlement: str, behavior: str, value: Decimal, at: datetime) -> None:
        if behavior not in offline_files.BEHAVIORS:
            raise OfflineFileError("behavior is append or set", "behavior")
        state = self.state()
        state["pending"].append(
            {
                "entitlement": entitlement,
                "behavior": behavior,
                "value": str(value),
                "recordedAt": offline_files.iso(at),
            }
        )
        self._save(state)

    def export_bundle(self, now: datetime) -> str:
        """The next bundle, of every pending report (possibly none)."""
        state = self.state()
        if not state.get("activationId"):
            raise OfflineFileError("this installation is not activated", "state")
        sequence = int(state["nextSequence"])
        pending = state["pending"][: offline_files.MAX_BUNDLE_REPORTS]
        text = offline_files.write_bundle(
            self._key(),
            activation_id=state["activationId"],
            sequence=sequence,
            created_at=now,
            reports=pending,
        )
        state["pending"] = state["pending"][len(pending) :]
        state["nextSequence"] = sequence + 1
        state["outbox"][str(sequence)] = text
        self._save(state)
        return text

    def unacknowledged(self) -> dict[int, str]:
        """The bundles exported and not acknowledged yet, by sequence (send them again)."""
        return {int(k): v for k, v in self.state()["outbox"].items()}

    def accept_ack(self, text: str, now: datetime) -> dict[str, Any]:
        """Take an acknowledgement of one of this installation's bundles."""
        state = self.state()
        document = self._vendor_document(text, offline_files.ACK_LABEL, offline_files.ACK_FORMAT)
        sequence = document.get("sequence")
        sent = state["outbox"].get(str(sequence))
        if sent is None or document.get("bundleSha256") != offline_files.sha256_of(sent):
            raise OfflineFileError("the acknowledgement is of another bundle", "bundleSha256")
        if document.get("licenseFile"):
            self._take_license(str(document["licenseFile"]), now)
        del state["outbox"][str(sequence)]
        self._save(state)
        return document
