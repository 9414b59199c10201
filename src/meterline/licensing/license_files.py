"""License files v2: issued with the active key of the environment's key set (``kid``), a
lifetime with a refresh time, an enforcement mode with a grace window, and optionally bound
to one machine (its fingerprint inside the signed payload). The format is in
docs/licensing.md; the reference verifier is ``verifier.py``.

Every issued file is recorded (``license_file_issues``) with its terms, so that a refresh
(through an offline usage bundle, or a new request) issues the same terms again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.licensing import license_file, machine_store, offline_store, signing_keys
from meterline.licensing.instances import get_instance, license_terms
from meterline.licensing.license_file import LicenseFileError, unarmour
from meterline.licensing.models import Instance
from meterline.licensing.offline_models import KEY_RETIRED, IssuedLicenseFile
from meterline.licensing.verifier import (
    FORMAT_V2,
    LICENSE_LABEL,
    MAX_FILE_CHARS,
    Decision,
    Verifier,
)

DAY = 86400
DEFAULT_LIFETIME_SECONDS = 30 * DAY
DEFAULT_GRACE_SECONDS = 7 * DAY
MAX_LIFETIME_SECONDS = 3 * 366 * DAY
MAX_GRACE_SECONDS = 90 * DAY


@dataclass(frozen=True)
class FileTerms:
    """How a v2 file is issued: lifetime and grace in seconds, the enforcement mode
    (``enforce``, ``warn``, ``log``), and the fingerprint it is bound to (None: any)."""

    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS
    grace_seconds: int = DEFAULT_GRACE_SECONDS
    enforcement: str = "enforce"
    fingerprint: str | None = None


@dataclass(frozen=True)
class IssuedFile:
    text: str
    record: IssuedLicenseFile


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def issue_for(
    session: Session, principal: Principal, instance: Instance, terms: FileTerms, now: datetime
) -> IssuedFile:
    """A v2 file of ``instance``; a bound file needs a counted machine of the fingerprint."""
    machine_id = None
    if terms.fingerprint is not None:
        machine = machine_store.machine_of_fingerprint(session, instance.id, terms.fingerprint, now)
        if machine is None:
            raise NotFound("machine", terms.fingerprint)
        machine_id = machine.id
    kid, key = signing_keys.active_key(session, principal)
    # Seconds, not microseconds: the file's instants are whole seconds, as the record's.
    now = now.replace(microsecond=0)
    expires = now + timedelta(seconds=terms.lifetime_seconds)
    refresh_after = now + timedelta(seconds=terms.lifetime_seconds // 2)
    record = IssuedLicenseFile(
        id=new_id("lfile"),
        environment_id=principal.environment_id,
        instance_id=instance.id,
        kid=kid,
        machine_id=machine_id,
        fingerprint=terms.fingerprint,
        lifetime_seconds=terms.lifetime_seconds,
        grace_seconds=terms.grace_seconds,
        enforcement=terms.enforcement,
        issued_at=now,
        expires_at=expires,
        refresh_after=refresh_after,
    )
    session.add(record)
    session.flush()
    payload = {
        "format": FORMAT_V2,
        "kid": kid,
        "fileId": record.id,
        "issuedAt": _iso(now),
        "expiresAt": _iso(expires),
        "refreshAfter": _iso(refresh_after),
        "enforcement": {"mode": terms.enforcement, "graceSeconds": terms.grace_seconds},
        "machine": (
            None
            if terms.fingerprint is None
            else {"id": machine_id, "fingerprint": terms.fingerprint}
        ),
        **license_terms(session, principal, instance),
    }
    return IssuedFile(license_file.sign_document(LICENSE_LABEL, payload, key), record)


def issue(
    session: Session, principal: Principal, instance_slug: str, terms: FileTerms, now: datetime
) -> IssuedFile:
    return issue_for(
        session, principal, get_instance(session, principal, instance_slug), terms, now
    )


def terms_of(record: IssuedLicenseFile) -> FileTerms:
    return FileTerms(
        record.lifetime_seconds, record.grace_seconds, record.enforcement, record.fingerprint
    )


def refresh_if_due(
    session: Session,
    principal: Principal,
    instance: Instance,
    fingerprint: str | None,
    now: datetime,
) -> IssuedFile | None:
    """A new file with the terms of the instance's latest one (for ``fingerprint``) when
    that one's ``refreshAfter`` has passed; None when it has not, or none was issued."""
    latest = offline_store.latest_issued(session, instance.id, fingerprint)
    if latest is None or now < latest.refresh_after:
        return None
    if fingerprint is not None and (
        machine_store.machine_of_fingerprint(session, instance.id, fingerprint, now) is None
    ):
        return None  # the machine is gone: nothing to refresh for it
    return issue_for(session, principal, instance, terms_of(latest), now)


def verify(
    session: Session,
    principal: Principal,
    text: str,
    now: datetime,
    fingerprint: str | None = None,
) -> Decision:
    """The decision for a file (v1 or v2) against the environment's keys that are not
    retired: a file signed by a retired or unknown key, or changed, is refused (400)."""
    keys = signing_keys.key_set(session, principal)
    trusted = {k.kid: k.public_key for k in keys if k.status != KEY_RETIRED}
    try:
        return Verifier(trusted).verify(text, now=now, fingerprint=fingerprint)
    except LicenseFileError as exc:
        retired = {k.kid for k in keys if k.status == KEY_RETIRED}
        kid = _kid_of(text)
        if kid in retired:
            raise InvalidRequest(
                f"the file is signed by the retired key {kid}", field="file", reason="key_retired"
            ) from exc
        raise InvalidRequest(
            f"the file is not valid: {exc}", field="file", reason="license_file_invalid"
        ) from exc


def _kid_of(text: str) -> str | None:
    try:
        document = unarmour(text, LICENSE_LABEL, MAX_FILE_CHARS).document
    except LicenseFileError:
        return None
    kid = document.get("kid", document.get("keyId"))
    return kid if isinstance(kid, str) else None
