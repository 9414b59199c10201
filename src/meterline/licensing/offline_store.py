"""SQL of license files v2 and offline licensing (``offline_models.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.db.dialect import dialect_of
from meterline.licensing.offline_models import (
    IssuedLicenseFile,
    LicenseSigningKey,
    OfflineActivation,
    UsageBundleImport,
)


def signing_keys(
    session: Session, environment_id: str, *, lock: bool = False
) -> list[LicenseSigningKey]:
    """The environment's keys, oldest first (``lock``: their rows locked, read fresh)."""
    query = (
        select(LicenseSigningKey)
        .where(LicenseSigningKey.environment_id == environment_id)
        .order_by(LicenseSigningKey.created_at, LicenseSigningKey.kid)
    )
    if lock:
        query = dialect_of(session).for_update(query).execution_options(populate_existing=True)
    return list(session.scalars(query))


def insert_key_if_missing(session: Session, row: dict[str, Any]) -> None:
    insert = dialect_of(session).insert(LicenseSigningKey).values(**row)
    session.execute(insert.on_conflict_do_nothing())


def issued_file(session: Session, environment_id: str, file_id: str) -> IssuedLicenseFile | None:
    return session.scalars(
        select(IssuedLicenseFile).where(
            IssuedLicenseFile.environment_id == environment_id, IssuedLicenseFile.id == file_id
        )
    ).first()


def latest_issued(
    session: Session, instance_id: str, fingerprint: str | None
) -> IssuedLicenseFile | None:
    """The instance's latest file (bound to ``fingerprint``, or unbound when None)."""
    bound = (
        IssuedLicenseFile.fingerprint.is_(None)
        if fingerprint is None
        else IssuedLicenseFile.fingerprint == fingerprint
    )
    return session.scalars(
        select(IssuedLicenseFile)
        .where(IssuedLicenseFile.instance_id == instance_id, bound)
        .order_by(IssuedLicenseFile.issued_at.desc(), IssuedLicenseFile.id.desc())
        .limit(1)
    ).first()


def activation_of_installation(
    session: Session, environment_id: str, installation_kid: str, *, lock: bool = False
) -> OfflineActivation | None:
    query = select(OfflineActivation).where(
        OfflineActivation.environment_id == environment_id,
        OfflineActivation.installation_kid == installation_kid,
    )
    if lock:
        query = dialect_of(session).for_update(query).execution_options(populate_existing=True)
    return session.scalars(query).first()


def activation_of_nonce(
    session: Session, environment_id: str, nonce: str
) -> OfflineActivation | None:
    return session.scalars(
        select(OfflineActivation).where(
            OfflineActivation.environment_id == environment_id, OfflineActivation.nonce == nonce
        )
    ).first()


def bundle_import(session: Session, activation_id: str, sequence: int) -> UsageBundleImport | None:
    return session.get(UsageBundleImport, (activation_id, sequence))


def last_sequence(session: Session, activation_id: str) -> int:
    """The highest sequence imported for the activation (0: none yet)."""
    found = session.scalar(
        select(func.max(UsageBundleImport.sequence)).where(
            UsageBundleImport.activation_id == activation_id
        )
    )
    return int(found or 0)
