"""Offline license files: a JSON payload signed with the environment's Ed25519 key.

The file is two armoured blocks (see ``docs/licensing.md`` for the format):

    -----BEGIN METERLINE LICENSE-----
    <base64 of the payload's UTF-8 JSON bytes, 64 characters a line>
    -----END METERLINE LICENSE-----
    -----BEGIN METERLINE SIGNATURE-----
    <base64 of the 64-byte Ed25519 signature of exactly those payload bytes>
    -----END METERLINE SIGNATURE-----

Verification decodes both blocks, re-renders the file from what it decoded and requires it
to equal the input byte for byte (so no byte of the file is free to change), then checks the
signature over the payload bytes. Pure: keys and documents in, documents out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "meterline.license/v1"
_PAYLOAD = "METERLINE LICENSE"
_SIGNATURE = "METERLINE SIGNATURE"
_LINE = 64


class LicenseFileError(ValueError):
    """The file is malformed, was changed, or was not signed by the given key."""


def new_private_key_pem() -> str:
    return private_key_pem(Ed25519PrivateKey.generate())


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise LicenseFileError("the signing key is not an Ed25519 key")
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key_raw(public_key)).hexdigest()[:16]


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key as PEM (SubjectPublicKeyInfo) or as base64 of the raw 32 bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise LicenseFileError("the public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise LicenseFileError("the public key is neither PEM nor base64") from exc
    if len(raw) != 32:
        raise LicenseFileError("a raw Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _block(label: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    lines = [encoded[i : i + _LINE] for i in range(0, len(encoded), _LINE)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def armour(label: str, payload: bytes, signature: bytes) -> str:
    """A signed document: the ``label`` block of the payload, then the signature block."""
    return _block(label, payload) + _block(_SIGNATURE, signature)


def render(payload: bytes, signature: bytes) -> str:
    return armour(_PAYLOAD, payload, signature)


def sign_document(label: str, document: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    """``document`` as canonical JSON, armoured under ``label`` and signed."""
    data = canonical_json(document)
    return armour(label, data, private_key.sign(data))


def sign(payload: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    """The license file of ``payload`` (which must carry ``format``)."""
    data = canonical_json(payload)
    return render(data, private_key.sign(data))


def _decode_block(lines: list[str], at: int, label: str) -> tuple[bytes, int]:
    if at >= len(lines) or lines[at] != f"-----BEGIN {label}-----":
        raise LicenseFileError(f"expected the {label} block")
    end = at + 1
    while end < len(lines) and lines[end] != f"-----END {label}-----":
        end += 1
    if end >= len(lines):
        raise LicenseFileError(f"the {label} block is not closed")
    try:
        data = base64.b64decode("".join(lines[at + 1 : end]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LicenseFileError(f"the {label} block is not base64") from exc
    return data, end + 1


@dataclass(frozen=True)
class VerifiedLicense:
    payload: dict[str, Any]
    key_id: str


@dataclass(frozen=True)
class Unarmoured:
    """A signed document taken apart, its signature not checked yet."""

    payload: bytes
    signature: bytes
    document: dict[str, Any]

    def check(self, public_key: Ed25519PublicKey) -> dict[str, Any]:
        """The document, if ``public_key`` signed exactly these payload bytes."""
        try:
            public_key.verify(self.signature, self.payload)
        except InvalidSignature as exc:
            raise LicenseFileError("the signature does not match: the file was changed") from exc
        return self.document


def unarmour(text: str, label: str, max_chars: int = 1 << 20) -> Unarmoured:
    """The payload, signature and JSON object of a document armoured under ``label``; the
    text must be exactly the canonical rendering of what it decodes to."""
    if len(text) > max_chars:
        raise LicenseFileError(f"the file is longer than {max_chars} characters")
    lines = text.split("\n")
    payload, at = _decode_block(lines, 0, label)
    signature, at = _decode_block(lines, at, _SIGNATURE)
    if armour(label, payload, signature) != text:
        raise LicenseFileError("the file is not in canonical form: it was changed")
    if len(signature) != 64:
        raise LicenseFileError("an Ed25519 signature has 64 bytes")
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise LicenseFileError("the payload is not JSON") from exc
    if not isinstance(document, dict):
        raise LicenseFileError("the payload is not a JSON object")
    return Unarmoured(payload, signature, document)


def verify(text: str, public_key: Ed25519PublicKey) -> VerifiedLicense:
    """The payload of a license file signed by ``public_key``; ``LicenseFileError`` if not."""
    document = unarmour(text, _PAYLOAD).check(public_key)
    if document.get("format") != FORMAT:
        raise LicenseFileError(f"the payload is not a {FORMAT} document")
    return VerifiedLicense(document, key_id(public_key))
