"""The reference verifier of Meterline license files (v2, and v1), for the licensed software.

It runs where the software runs, offline, and trusts only the keys it is built with::

    VENDOR_KEYS = {"3f2a9c0d1b7e4a55": "q0p8...base64 of the raw 32-byte key...="}
    VERIFIER = Verifier(VENDOR_KEYS)
    decision = VERIFIER.verify(Path("acme.lic").read_text(), now=datetime.now(UTC),
                               fingerprint=this_machines_fingerprint())
    if not decision.allowed:
        sys.exit(decision.message)

The keys are a constant of the build (copied from the vendor's published key set,
``GET /api/.well-known/meterline-license-keys.json``). This module never reads a key from a
file, a setting or the environment: whoever can write those on the installation's disk could
otherwise sign their own licenses. A file signed by a key the build does not pin, changed in
any byte, or not a license file raises :class:`LicenseFileError`; everything else gets a
:class:`Decision` that says what the file's enforcement mode wants the software to do.

Pure (no I/O) and self-contained apart from the armour in ``license_file``: vendors may copy
both modules into their product.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from meterline.licensing.license_file import (
    FORMAT as FORMAT_V1,
)
from meterline.licensing.license_file import (
    LicenseFileError,
    key_id,
    unarmour,
)

FORMAT_V2 = "meterline.license/v2"
LICENSE_LABEL = "METERLINE LICENSE"
MODES = ("enforce", "warn", "log")
MAX_FILE_CHARS = 256 * 1024

VALID = "VALID"
GRACE = "GRACE"  # past its end, inside the grace window
EXPIRED = "EXPIRED"  # past its end and its grace window
NOT_YET_VALID = "NOT_YET_VALID"
MACHINE_MISMATCH = "MACHINE_MISMATCH"  # bound to another machine (or none was stated)


@dataclass(frozen=True)
class Decision:
    """What a verified file says now.

    ``status`` is one of the constants above. ``allowed`` is what the software should do:
    a valid file or one in its grace window is allowed; any other status is refused in
    ``enforce`` mode and allowed in ``warn`` and ``log`` modes. ``notice`` is how to tell:
    ``none`` (valid), ``warn`` (show the user: grace, or any refusal, or ``warn`` mode) or
    ``log`` (record it quietly: ``log`` mode). ``refresh_due``: the file asks to be
    replaced by a fresh one (its ``refreshAfter`` has passed)."""

    status: str
    allowed: bool
    notice: str
    mode: str
    kid: str
    format: str
    payload: dict[str, Any]
    ends_at: datetime
    grace_ends_at: datetime
    refresh_due: bool
    message: str


def _instant(document: dict[str, Any], name: str) -> datetime:
    text = document.get(name)
    if not isinstance(text, str) or len(text) > 40:
        raise LicenseFileError(f"the payload has no {name}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise LicenseFileError(f"{name} is not an ISO 8601 instant") from exc
    if moment.tzinfo is None:
        raise LicenseFileError(f"{name} has no time zone")
    return moment


def _public_key(kid: str, encoded: str | bytes) -> Ed25519PublicKey:
    try:
        raw = encoded if isinstance(encoded, bytes) else base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise LicenseFileError(f"the pinned key {kid} is not base64") from exc
    if len(raw) != 32:
        raise LicenseFileError(f"the pinned key {kid} does not have 32 bytes")
    key = Ed25519PublicKey.from_public_bytes(raw)
    if key_id(key) != kid:
        raise LicenseFileError(f"the pinned key {kid} is not the key of that id")
    return key


class Verifier:
    """Verifies license files against the keys it was built with (kid -> raw public key,
    base64 or bytes). A key id must be the id of its key, so a pinned list cannot be
    mislabelled."""

    def __init__(self, keys: Mapping[str, str | bytes]) -> None:
        if not keys:
            raise LicenseFileError("a verifier needs at least one pinned key")
        self._keys = {kid: _public_key(kid, raw) for kid, raw in keys.items()}

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verified_payload(self, text: str, label: str = LICENSE_LABEL) -> tuple[str, dict[str, Any]]:
        """The key id and payload of any document armoured under ``label`` and signed by a
        pinned key (its ``kid`` field, or ``keyId`` in v1 files, names the key)."""
        parts = unarmour(text, label, MAX_FILE_CHARS)
        kid = parts.document.get("kid", parts.document.get("keyId"))
        if not isinstance(kid, str) or kid not in self._keys:
            raise LicenseFileError(f"the file is signed by a key this build does not trust: {kid}")
        return kid, parts.check(self._keys[kid])

    def verify(self, text: str, *, now: datetime, fingerprint: str | None = None) -> Decision:
        """The decision for a license file at ``now`` on the machine of ``fingerprint``."""
        kid, document = self.verified_payload(text)
        return decide(document, kid, now=now, fingerprint=fingerprint)


def decide(
    document: dict[str, Any], kid: str, *, now: datetime, fingerprint: str | None = None
) -> Decision:
    """The decision of a verified payload (v1 or v2) at ``now``."""
    form = document.get("format")
    valid_from = _instant(document, "validFrom")
    ends = _instant(document, "validUntil")
    refresh_due = False
    mode, grace = "enforce", timedelta(0)
    bound: str | None = None
    if form == FORMAT_V2:
        expires = _instant(document, "expiresAt")
        ends = min(ends, expires)
        refresh_due = now >= _instant(document, "refreshAfter")
        enforcement = document.get("enforcement")
        if not isinstance(enforcement, dict) or enforcement.get("mode") not in MODES:
            raise LicenseFileError("the payload has no enforcement mode")
        mode = str(enforcement["mode"])
        seconds = enforcement.get("graceSeconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds < 10**9:
            raise LicenseFileError("the payload's graceSeconds is not a whole number of seconds")
        grace = timedelta(seconds=seconds)
        machine = document.get("machine")
        if machine is not None:
            if not isinstance(machine, dict) or not isinstance(machine.get("fingerprint"), str):
                raise LicenseFileError("the payload's machine has no fingerprint")
            bound = machine["fingerprint"]
    elif form != FORMAT_V1:
        raise LicenseFileError(f"the payload is not a {FORMAT_V2} or {FORMAT_V1} document")
    try:
        grace_ends = ends + grace
    except OverflowError:  # a license that ends near the last representable instant
        grace_ends = datetime.max.replace(tzinfo=ends.tzinfo)
    if bound is not None and fingerprint != bound:
        status, message = MACHINE_MISMATCH, "the license is bound to another machine"
    elif now < valid_from:
        status, message = NOT_YET_VALID, "the license is not valid yet"
    elif now < ends:
        status, message = VALID, "the license is valid"
    elif now < grace_ends:
        status, message = GRACE, f"the license ended at {ends.isoformat()}: refresh it"
    else:
        status, message = EXPIRED, f"the license ended at {ends.isoformat()}"
    allowed = status in (VALID, GRACE) or mode != "enforce"
    if status == VALID:
        notice = "none"
    elif mode == "log":
        notice = "log"
    else:
        notice = "warn"
    return Decision(
        status=status,
        allowed=allowed,
        notice=notice,
        mode=mode,
        kid=kid,
        format=str(form),
        payload=document,
        ends_at=ends,
        grace_ends_at=grace_ends,
        refresh_due=refresh_due or status in (GRACE, EXPIRED),
        message=message,
    )
