"""An environment's license signing key set: one ``active`` key signs, rotated keys stay
``published`` (files they signed keep verifying), ``retired`` keys are no longer published
and files they signed are refused.

The set starts with the environment's original key (the one v1 files are signed with), so a
build that pinned it keeps verifying v1 and v2 files until the vendor rotates and retires it.
Rotation and retirement are the vendor's: the API routes take a full-access key, the CLI
runs on the server's database.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.models import Environment
from meterline.accounts.principal import FULL_ACCESS, Principal
from meterline.kernel.errors import Conflict, NotFound
from meterline.licensing import license_file, offline_store
from meterline.licensing.instances import signing_key as original_key
from meterline.licensing.offline_models import (
    KEY_ACTIVE,
    KEY_PUBLISHED,
    KEY_RETIRED,
    LicenseSigningKey,
)

ALGORITHM = "EdDSA"
CURVE = "Ed25519"


def _row(environment_id: str, key: Ed25519PrivateKey, status: str) -> dict[str, object]:
    public = key.public_key()
    return {
        "environment_id": environment_id,
        "kid": license_file.key_id(public),
        "private_key_pem": license_file.private_key_pem(key),
        "public_key": base64.b64encode(license_file.public_key_raw(public)).decode("ascii"),
        "status": status,
        "active_claim": environment_id if status == KEY_ACTIVE else None,
    }


def administrator(session: Session, environment_id: str) -> Principal:
    """The environment's administrator as the server's operator acts for it (the CLI)."""
    found = session.get(Environment, environment_id)
    if found is None:
        raise NotFound("environment", environment_id)
    return Principal(found.organization_id, found.id, "cli", scopes=frozenset({FULL_ACCESS}))


def key_set(session: Session, principal: Principal) -> list[LicenseSigningKey]:
    """Every key of the environment, oldest first; seeded with its original key."""
    found = offline_store.signing_keys(session, principal.environment_id)
    if found:
        return found
    seed = _row(principal.environment_id, original_key(session, principal), KEY_ACTIVE)
    # Two first uses at once insert the same row: the second does nothing.
    offline_store.insert_key_if_missing(session, seed)
    session.flush()
    return offline_store.signing_keys(session, principal.environment_id)


def active_key(session: Session, principal: Principal) -> tuple[str, Ed25519PrivateKey]:
    """The kid and private key that sign new files."""
    for row in key_set(session, principal):
        if row.status == KEY_ACTIVE:
            return row.kid, license_file.load_private_key(row.private_key_pem)
    raise Conflict("The environment has no active license signing key", reason="no_active_key")


def trusted(session: Session, principal: Principal) -> dict[str, str]:
    """kid -> base64 raw public key of every key not retired (what is published)."""
    return {r.kid: r.public_key for r in key_set(session, principal) if r.status != KEY_RETIRED}


@dataclass(frozen=True)
class Rotation:
    active: LicenseSigningKey
    previous: LicenseSigningKey | None


def rotate(session: Session, principal: Principal, now: datetime) -> Rotation:
    """A new active key; the active one stays published (its files keep verifying)."""
    key_set(session, principal)
    previous = None
    for row in offline_store.signing_keys(session, principal.environment_id, lock=True):
        if row.status == KEY_ACTIVE:
            row.status, row.active_claim, row.rotated_at = KEY_PUBLISHED, None, now
            previous = row
    session.flush()  # the old claim is gone before the new one is made
    created = LicenseSigningKey(
        **_row(principal.environment_id, Ed25519PrivateKey.generate(), KEY_ACTIVE), created_at=now
    )
    session.add(created)
    try:
        session.flush()
    except IntegrityError as exc:  # another rotation made its key active meanwhile
        raise Conflict("The key set was rotated concurrently", reason="rotated") from exc
    return Rotation(created, previous)


def retire(session: Session, principal: Principal, kid: str, now: datetime) -> LicenseSigningKey:
    """Stop publishing ``kid`` and refuse files it signed; the active key cannot be retired
    (rotate first), retiring a retired key changes nothing."""
    key_set(session, principal)
    for row in offline_store.signing_keys(session, principal.environment_id, lock=True):
        if row.kid != kid:
            continue
        if row.status == KEY_ACTIVE:
            raise Conflict(
                f"The key {kid} is the active signing key: rotate before retiring it",
                reason="key_active",
            )
        if row.status != KEY_RETIRED:
            row.status, row.retired_at = KEY_RETIRED, now
            session.flush()
        return row
    raise NotFound("signing key", kid)
