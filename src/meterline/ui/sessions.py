"""Signing in to the dashboard with an API key, and the sessions that follow."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterline.accounts import service as accounts
from meterline.accounts.models import UiSession
from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.kernel.errors import PermissionDenied, Unauthenticated

SESSION_LIFETIME = timedelta(hours=12)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sign_in(session: Session, key: str) -> str:
    """Checks ``key`` (a vendor key that may read billing) and opens a session; returns the
    session token for the cookie."""
    principal = accounts.authenticate(session, key.strip())
    if principal.is_customer_scoped or not principal.may("read", "billing"):
        raise PermissionDenied("This key may not read billing data")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(UiSession).where(UiSession.expires_at < now))
    session.add(
        UiSession(
            token_hash=_digest(token),
            key_hash=accounts.hash_key(key.strip()),
            environment_id=principal.environment_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


def principal_of(session: Session, token: str | None) -> Principal:
    """The caller behind a session token; Unauthenticated if it is unknown or expired, or
    if its key was revoked since."""
    if not token:
        raise Unauthenticated("Sign in first")
    row = session.scalar(select(UiSession).where(UiSession.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        raise Unauthenticated("The session has ended; sign in again")
    return accounts.authenticate_digest(session, row.key_hash)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UiSession).where(UiSession.token_hash == _digest(token)))
