"""Customer portal links (the SDK's ``customers.create_customer_portal_session``).

A link is ``/portal/<token>``: a random 256-bit token, of which only the SHA-256 is stored
with the customer it shows, its environment and its expiry (:data:`LIFETIME`). Holding the
link is the right to read that one customer's billing; it cannot be altered to show
another (the customer comes from the stored row, never from the request) and stops working
at its expiry. Rows rather than a signature: a link can be revoked, and no secret has to
be shared between the processes of a deployment.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.kernel.errors import NotFound, PermissionDenied, Unauthenticated
from meterline.portal import repository
from meterline.portal.models import PortalSession

LIFETIME = timedelta(hours=1)
MAX_TOKEN_LENGTH = 128
READ_SCOPES = frozenset({"read:*"})


@dataclass(frozen=True)
class NewPortalSession:
    token: str
    expires_at: datetime
    customer: Customer


@dataclass(frozen=True)
class PortalCaller:
    """Who a portal request reads as: one customer of one environment, read-only."""

    principal: Principal
    customer: Customer
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_portal_session(
    session: Session, principal: Principal, external_id: str, now: datetime | None = None
) -> NewPortalSession:
    """A link for the customer with ``external_id`` of the caller's environment."""
    if principal.is_customer_scoped:
        raise PermissionDenied("This key is scoped to one customer and may only read its usage")
    customer = customers.get_customer_by_external_id(session, principal, external_id)
    now = now or utcnow()
    repository.delete_expired(session, now)
    token = secrets.token_urlsafe(32)
    row = PortalSession(
        token_hash=_digest(token),
        environment_id=principal.environment_id,
        organization_id=principal.organization_id,
        customer_id=customer.id,
        created_by=principal.user_id or principal.key_id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    session.flush()
    return NewPortalSession(token, row.expires_at, customer)


def caller_of(session: Session, token: str, now: datetime | None = None) -> PortalCaller:
    """The customer a portal token shows; Unauthenticated when it is unknown or expired, or
    its customer is gone."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("This portal link is not valid")
    row = repository.portal_session(session, _digest(token))
    if row is None:
        raise Unauthenticated("This portal link is not valid")
    if row.expires_at <= (now or utcnow()):
        raise Unauthenticated("This portal link has expired; ask for a new one")
    principal = Principal(
        organization_id=row.organization_id,
        environment_id=row.environment_id,
        key_id=f"portal_{row.token_hash[:16]}",
        scopes=READ_SCOPES,
    )
    try:
        customer = customers.get_customer(session, principal, row.customer_id)
    except NotFound as exc:  # archived since the link was made
        raise Unauthenticated("This portal link is not valid") from exc
    return PortalCaller(principal, customer, row.expires_at)
