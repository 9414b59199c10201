"""Queries of the customer portal's sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from meterline.portal.models import PortalSession


def portal_session(session: Session, token_hash: str) -> PortalSession | None:
    return session.get(PortalSession, token_hash)


def delete_expired(session: Session, now: datetime) -> None:
    session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
