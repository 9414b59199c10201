"""Small pieces every licensing resource shares: who acted, slugs, unique flushes."""

from __future__ import annotations

import re
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.kernel.errors import AlreadyExists


def actor(principal: Principal) -> str:
    """Who did it: the key's user, else the key."""
    return principal.user_id or principal.key_id


def slug_of(name: str) -> str:
    """A slug from a name: ``"Acme Prod!"`` → ``"acme-prod"`` (2..100 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100].strip("-")
    if len(slug) < 2:
        slug = (slug + "-" if slug else "") + secrets.token_hex(3)
    return slug


def flush_unique(session: Session, what: str) -> None:
    """Flush; a unique index refusing the row (a concurrent duplicate) is a 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise AlreadyExists(f"{what} already exists") from exc
