"""The files of the offline protocol, pure: reading and writing them, no I/O.

Four documents, each canonical JSON armoured and signed as license files are
(``license_file.armour``), each with its own label so that one is never taken for another:

* an **activation request** (installation → vendor), signed with the key the installation
  generated; it carries that public key, so the signature proves the request is whole and
  that its sender holds the key the later bundles are signed with;
* an **activation response** (vendor → installation), signed with the vendor's active key,
  naming the request by its SHA-256 and its nonce, with a machine-bound license file;
* a **usage bundle** (installation → vendor), signed with the installation's key: a
  sequence number and the usage reports recorded since the previous bundle;
* a **usage acknowledgement** (vendor → installation), signed with the vendor's active key,
  naming the bundle by its SHA-256, with a refreshed license file when one was due.

docs/licensing.md gives the fields and the security argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meterline.kernel import money
from meterline.licensing.license_file import (
    LicenseFileError,
    key_id,
    public_key_raw,
    sign_document,
    unarmour,
)

REQUEST_LABEL = "METERLINE ACTIVATION REQUEST"
RESPONSE_LABEL = "METERLINE ACTIVATION RESPONSE"
BUNDLE_LABEL = "METERLINE USAGE BUNDLE"
ACK_LABEL = "METERLINE USAGE ACK"
REQUEST_FORMAT = "meterline.activation-request/v1"
RESPONSE_FORMAT = "meterline.activation-response/v1"
BUNDLE_FORMAT = "meterline.usage-bundle/v1"
ACK_FORMAT = "meterline.usage-ack/v1"

MAX_REQUEST_CHARS = 16 * 1024
MAX_BUNDLE_CHARS = 512 * 1024
MAX_BUNDLE_REPORTS = 1000
MAX_SEQUENCE = 10**9
_NONCE = re.compile(r"^[0-9a-f]{32,64}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_KID = re.compile(r"^[0-9a-f]{16}$")
BEHAVIORS = ("append", "set")


class OfflineFileError(ValueError):
    """A file of the protocol is malformed, changed, or signed by another key; ``field``
    names the part at fault."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw_public_key(key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key_raw(key)).decode("ascii")


def public_key_of(encoded: Any) -> Ed25519PublicKey:
    if not isinstance(encoded, str) or len(encoded) > 64:
        raise OfflineFileError("installationKey is not a base64 Ed25519 key", "installationKey")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise OfflineFileError("installationKey is not base64", "installationKey") from exc
    if len(raw) != 32:
        raise OfflineFileError("installationKey does not have 32 bytes", "installationKey")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:  # bytes that are no point of the curve
        raise OfflineFileError("installationKey is not an Ed25519 key", "installationKey") from exc


def _text(document: dict[str, Any], name: str, *, most: int, optional: bool = False) -> Any:
    value = document.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= most:
        raise OfflineFileError(f"{name} is not a string of 1 to {most} characters", name)
    return value


def _whole(document: dict[str, Any], name: str, low: int, high: int, optional: bool = False) -> Any:
    value = document.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise OfflineFileError(f"{name} is not a whole number from {low} to {high}", name)
    return value


def _instant(document: dict[str, Any], name: str) -> datetime:
    text = _text(document, name, most=40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise OfflineFileError(f"{name} is not an ISO 8601 instant", name) from exc
    if moment.tzinfo is None:
        raise OfflineFileError(f"{name} has no time zone", name)
    return moment


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _self_signed(text: str, label: str, form: str, most: int) -> tuple[dict[str, Any], str]:
    """The document and its signer's kid; the signer's key is the one the document names."""
    try:
        parts = unarmour(text, label, most)
    except LicenseFileError as exc:
        raise OfflineFileError(str(exc)) from exc
    document = parts.document
    if document.get("format") != form:
        raise OfflineFileError(f"the file is not a {form} document", "format")
    return document, _kid(document, "installationKid")


def _kid(document: dict[str, Any], name: str) -> str:
    kid = document.get(name)
    if not isinstance(kid, str) or not _KID.match(kid):
        raise OfflineFileError(f"{name} is not a key id (16 hex digits)", name)
    return kid


def _check(text: str, label: str, key: Ed25519PublicKey, most: int) -> dict[str, Any]:
    try:
        return unarmour(text, label, most).check(key)
    except LicenseFileError as exc:
        raise OfflineFileError(str(exc), "signature") from exc


# --- activation request -------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationRequest:
    installation_kid: str
    installation_key: str  # base64 of the raw 32 bytes
    license_key: str
    fingerprint: str
    hostname: str | None
    platform: str | None
    cores: int | None
    nonce: str
    created_at: datetime
    sha256: str


def write_request(
    key: Ed25519PrivateKey,
    *,
    license_key: str,
    fingerprint: str,
    nonce: str,
    created_at: datetime,
    hostname: str | None = None,
    platform: str | None = None,
    cores: int | None = None,
) -> str:
    public = key.public_key()
    document = {
        "format": REQUEST_FORMAT,
        "installationKid": key_id(public),
        "installationKey": raw_public_key(public),
        "licenseKey": license_key,
        "fingerprint": fingerprint,
        "hostname": hostname,
        "platform": platform,
        "cores": cores,
        "nonce": nonce,
        "createdAt": iso(created_at),
    }
    return sign_document(REQUEST_LABEL, document, key)


def read_request(text: str) -> ActivationRequest:
    """A request whose signature is by the key it carries, with every field in bounds."""
    document, kid = _self_signed(text, REQUEST_LABEL, REQUEST_FORMAT, MAX_REQUEST_CHARS)
    encoded = document.get("installationKey")
    key = public_key_of(encoded)
    if key_id(key) != kid:
        raise OfflineFileError(
            "installationKid is not the id of installationKey", "installationKid"
        )
    document = _check(text, REQUEST_LABEL, key, MAX_REQUEST_CHARS)
    nonce = _text(document, "nonce", most=64)
    if not _NONCE.match(nonce):
        raise OfflineFileError("nonce is not 32 to 64 lowercase hex digits", "nonce")
    return ActivationRequest(
        installation_kid=kid,
        installation_key=str(encoded),
        license_key=_text(document, "licenseKey", most=40),
        fingerprint=_text(document, "fingerprint", most=255),
        hostname=_text(document, "hostname", most=255, optional=True),
        platform=_text(document, "platform", most=100, optional=True),
        cores=_whole(document, "cores", 1, 1_000_000, optional=True),
        nonce=nonce,
        created_at=_instant(document, "createdAt"),
        sha256=sha256_of(text),
    )


# --- activation response ------------------------------------------------------------------


def write_response(
    key: Ed25519PrivateKey,
    kid: str,
    request: ActivationRequest,
    *,
    activation_id: str,
    instance_slug: str,
    machine_id: str,
    license_text: str,
    issued_at: datetime,
) -> str:
    document = {
        "format": RESPONSE_FORMAT,
        "kid": kid,
        "activationId": activation_id,
        "requestSha256": request.sha256,
        "nonce": request.nonce,
        "installationKid": request.installation_kid,
        "instance": instance_slug,
        "machine": {"id": machine_id, "fingerprint": request.fingerprint},
        "licenseFile": license_text,
        "issuedAt": iso(issued_at),
    }
    return sign_document(RESPONSE_LABEL, document, key)


# --- usage bundles ------------------------------------------------------------------------


@dataclass(frozen=True)
class BundledReport:
    entitlement: str
    behavior: str
    value: Decimal
    recorded_at: datetime


@dataclass(frozen=True)
class UsageBundle:
    installation_kid: str
    activation_id: str
    sequence: int
    created_at: datetime
    reports: tuple[BundledReport, ...]
    sha256: str


def write_bundle(
    key: Ed25519PrivateKey,
    *,
    activation_id: str,
    sequence: int,
    created_at: datetime,
    reports: list[dict[str, Any]],
) -> str:
    """``reports``: ``{"entitlement", "behavior", "value" (decimal text), "recordedAt"}``."""
    document = {
        "format": BUNDLE_FORMAT,
        "installationKid": key_id(key.public_key()),
        "activationId": activation_id,
        "sequence": sequence,
        "createdAt": iso(created_at),
        "reports": reports,
    }
    return sign_document(BUNDLE_LABEL, document, key)


def bundle_signer(text: str) -> str:
    """The kid of the installation key a bundle says it is signed with (not checked yet)."""
    return _self_signed(text, BUNDLE_LABEL, BUNDLE_FORMAT, MAX_BUNDLE_CHARS)[1]


def _report(item: Any, index: int) -> BundledReport:
    where = f"reports[{index}]"
    if not isinstance(item, dict) or set(item) != {
        "entitlement",
        "behavior",
        "value",
        "recordedAt",
    }:
        raise OfflineFileError(
            f"{where} is not an object of entitlement, behavior, value, recordedAt", where
        )
    entitlement = _text(item, "entitlement", most=100)
    if not _SLUG.match(entitlement):
        raise OfflineFileError(f"{where}.entitlement is not a slug", where + ".entitlement")
    if item["behavior"] not in BEHAVIORS:
        raise OfflineFileError(f"{where}.behavior is append or set", where + ".behavior")
    text = item["value"]
    try:
        value = Decimal(text) if isinstance(text, str) and len(text) <= 60 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or money.problem(value) is not None:
        raise OfflineFileError(f"{where}.value is not a decimal in bounds", where + ".value")
    return BundledReport(entitlement, item["behavior"], value, _instant(item, "recordedAt"))


def read_bundle(text: str, key: Ed25519PublicKey) -> UsageBundle:
    """A bundle signed by ``key`` (the installation's), every report in bounds."""
    document = _check(text, BUNDLE_LABEL, key, MAX_BUNDLE_CHARS)
    if document.get("format") != BUNDLE_FORMAT:
        raise OfflineFileError(f"the file is not a {BUNDLE_FORMAT} document", "format")
    items = document.get("reports")
    if not isinstance(items, list) or len(items) > MAX_BUNDLE_REPORTS:
        raise OfflineFileError(f"reports is not a list of at most {MAX_BUNDLE_REPORTS}", "reports")
    return UsageBundle(
        installation_kid=_kid(document, "installationKid"),
        activation_id=_text(document, "activationId", most=40),
        sequence=_whole(document, "sequence", 1, MAX_SEQUENCE),
        created_at=_instant(document, "createdAt"),
        reports=tuple(_report(item, i) for i, item in enumerate(items)),
        sha256=sha256_of(text),
    )


def write_ack(
    key: Ed25519PrivateKey,
    kid: str,
    bundle: UsageBundle,
    *,
    imported_at: datetime,
    accepted: int,
    rejected: list[int],
    replayed: bool,
    license_text: str | None,
) -> str:
    document = {
        "format": ACK_FORMAT,
        "kid": kid,
        "activationId": bundle.activation_id,
        "installationKid": bundle.installation_kid,
        "sequence": bundle.sequence,
        "bundleSha256": bundle.sha256,
        "importedAt": iso(imported_at),
        "reports": len(bundle.reports),
        "accepted": accepted,
        "rejected": rejected,
        "replayed": replayed,
        "licenseFile": license_text,
    }
    return sign_document(ACK_LABEL, document, key)
