"""/api license files v2 and offline licensing (Meterline extensions, Kaiten-shaped): the
published key set, key rotation and retirement (full-access keys only), v2 files, their
server-side verification, offline activation and offline usage bundles.
Rules: ``licensing/signing_keys.py``, ``license_files.py``, ``offline.py``; docs/licensing.md.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import (
    Body,
    ReadLicenses,
    WriteInstances,
    authorize,
    compact,
)
from meterline.api.kaiten.ids import wire_id
from meterline.db.base import utcnow
from meterline.kernel.errors import PermissionDenied
from meterline.kernel.instants import AwareInstant
from meterline.licensing import license_files, offline, signing_keys
from meterline.licensing.license_files import (
    MAX_GRACE_SECONDS,
    MAX_LIFETIME_SECONDS,
    FileTerms,
)
from meterline.licensing.offline_files import MAX_BUNDLE_CHARS, MAX_REQUEST_CHARS
from meterline.licensing.offline_models import LicenseSigningKey
from meterline.licensing.verifier import MAX_FILE_CHARS, Decision

router = APIRouter(tags=["license files"])

WELL_KNOWN = "/.well-known/meterline-license-keys.json"
LICENSE_MEDIA = "application/x-meterline-license"


def _vendor(request: Request) -> Principal:
    """A full-access key of the environment: only the vendor's administrators rotate and
    retire signing keys."""
    principal = authorize(request, "write", "licenses")
    if not principal.has_full_access:
        raise PermissionDenied("Rotating and retiring signing keys needs a full-access key")
    return principal


def key_out(row: LicenseSigningKey) -> dict[str, Any]:
    return compact(
        {
            "kid": row.kid,
            "kty": "OKP",
            "crv": signing_keys.CURVE,
            "alg": signing_keys.ALGORITHM,
            "use": "sig",
            "x": row.public_key.replace("+", "-").replace("/", "_").rstrip("="),
            "publicKey": row.public_key,
            "status": row.status,
            "createdAt": iso(row.created_at),
            "rotatedAt": iso(row.rotated_at),
            "retiredAt": iso(row.retired_at),
        }
    )


@router.get(WELL_KNOWN)
def published_keys(principal: ReadLicenses, session: WriteSession) -> Response:
    """The environment's license signing keys that are not retired, JWKS-like (``x`` is the
    raw key in base64url, ``publicKey`` the same in base64): pin them in the verifier."""
    rows = signing_keys.key_set(session, principal)
    return json_response(
        {
            "environmentId": principal.environment_id,
            "keys": [key_out(r) for r in rows if r.status != "retired"],
        }
    )


@router.post("/license-files/signing-keys/rotate", status_code=201)
def rotate_key(request: Request, session: WriteSession) -> Response:
    """A new active signing key; the previous one stays published (full-access keys only)."""
    rotation = signing_keys.rotate(session, _vendor(request), utcnow())
    previous = rotation.previous
    return json_response(
        {
            "active": key_out(rotation.active),
            "previous": key_out(previous) if previous is not None else None,
        },
        201,
    )


@router.post("/license-files/signing-keys/{kid}/retire")
def retire_key(
    request: Request,
    session: WriteSession,
    kid: str = Path(min_length=1, max_length=40, description="The key id (16 hex digits)."),
) -> Response:
    """Stop publishing ``kid`` and refuse the files it signed (full-access keys only)."""
    principal = _vendor(request)
    return json_response(key_out(signing_keys.retire(session, principal, kid, utcnow())))


class LicenseFileIn(Body):
    lifetimeSeconds: int = Field(
        default=license_files.DEFAULT_LIFETIME_SECONDS, ge=60, le=MAX_LIFETIME_SECONDS
    )
    graceSeconds: int = Field(
        default=license_files.DEFAULT_GRACE_SECONDS, ge=0, le=MAX_GRACE_SECONDS
    )
    enforcement: Literal["enforce", "warn", "log"] = "enforce"
    fingerprint: str | None = Field(
        default=None, min_length=1, max_length=255, description="Bind the file to this machine."
    )


@router.post("/instances/{instanceSlug}/license-files", status_code=201)
def issue_license_file(
    instanceSlug: str, body: LicenseFileIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """A v2 license file of the instance, signed with the active key (``kid``)."""
    terms = FileTerms(body.lifetimeSeconds, body.graceSeconds, body.enforcement, body.fingerprint)
    issued = license_files.issue(session, principal, instanceSlug, terms, utcnow())
    return Response(
        issued.text,
        status_code=201,
        media_type=LICENSE_MEDIA,
        headers={
            "Content-Disposition": f'attachment; filename="{instanceSlug}.lic"',
            "License-File-Id": issued.record.id,
        },
    )


class VerifyIn(Body):
    file: str = Field(min_length=1, max_length=MAX_FILE_CHARS)
    fingerprint: str | None = Field(default=None, min_length=1, max_length=255)
    at: AwareInstant | None = Field(default=None, description="When to judge it (now).")


def decision_out(decision: Decision) -> dict[str, Any]:
    return {
        "status": decision.status,
        "allowed": decision.allowed,
        "notice": decision.notice,
        "mode": decision.mode,
        "kid": decision.kid,
        "format": decision.format,
        "endsAt": iso(decision.ends_at),
        "graceEndsAt": iso(decision.grace_ends_at),
        "refreshDue": decision.refresh_due,
        "message": decision.message,
        "payload": decision.payload,
    }


@router.post("/license-files/verify")
def verify_license_file(body: VerifyIn, principal: ReadLicenses, session: WriteSession) -> Response:
    """Verify a license file (v1 or v2) with the environment's keys that are not retired."""
    at = body.at or utcnow()
    decision = license_files.verify(session, principal, body.file, at, body.fingerprint)
    return json_response(decision_out(decision))


class ActivationIn(Body):
    request: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)


@router.post("/offline/activations", status_code=201)
def activate_offline(
    body: ActivationIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """Answer an activation request file: the machine is activated, the response file
    (with a machine-bound license file) goes back to the installation."""
    done = offline.activate(session, principal, body.request, utcnow())
    return json_response(
        {
            "activationId": done.activation.id,
            "machineId": wire_id(done.machine.id),
            "fingerprint": done.machine.fingerprint,
            "response": done.response,
        },
        201,
    )


class BundleIn(Body):
    bundle: str = Field(min_length=1, max_length=MAX_BUNDLE_CHARS)


@router.post("/offline/usage-bundles")
def import_usage_bundle(
    body: BundleIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """Import a usage bundle of an offline installation, once and in sequence."""
    done = offline.import_bundle(session, principal, body.bundle, utcnow())
    return json_response(
        {
            "sequence": done.sequence,
            "replayed": done.replayed,
            "accepted": done.accepted,
            "rejected": done.rejected,
            "acknowledgement": done.acknowledgement,
            "licenseFile": done.license_file,
        }
    )
