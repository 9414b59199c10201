"""/api floating seats (Meterline extension, Kaiten-shaped): check out, renew, release.
Rules: ``licensing/leases.py``; docs/licensing.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import Body, Page, ReadInstances, WriteInstances, compact
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.db.base import utcnow
from meterline.licensing import leases as service
from meterline.licensing.machine_models import SeatLease

router = APIRouter(tags=["seat leases"])

DAY = 86400


class CheckoutIn(Body):
    holder: str = Field(min_length=1, max_length=255, description="Who holds the seat.")
    ttlSeconds: int | None = Field(default=None, ge=1, le=DAY)


class RenewIn(Body):
    ttlSeconds: int | None = Field(default=None, ge=1, le=DAY)


def lease_out(lease: SeatLease, **extra: Any) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(lease.id),
            "holder": lease.holder,
            "checkedOutAt": iso(lease.checked_out_at),
            "renewedAt": iso(lease.renewed_at),
            "expiresAt": iso(lease.expires_at),
            **extra,
        }
    )


def _lease_id(given: str) -> str:
    return id_of(given, "lease", "lease")


@router.get("/instances/{instanceSlug}/leases")
def list_leases(
    instanceSlug: str, principal: ReadInstances, session: ReadSession, page: Page = Depends()
) -> Response:
    """The seats out now, oldest first."""
    rows = service.list_leases(
        session, principal, instanceSlug, utcnow(), (page.limit, page.offset)
    )
    return page.answer(rows, lease_out)


@router.post("/instances/{instanceSlug}/leases", status_code=201)
def checkout(
    instanceSlug: str, body: CheckoutIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """Check out a seat for ``holder`` (201), or renew the one it holds (200)."""
    result = service.checkout(
        session, principal, instanceSlug, body.holder, body.ttlSeconds, utcnow()
    )
    return json_response(lease_out(result.lease), 200 if result.renewed else 201)


@router.post("/instances/{instanceSlug}/leases/{leaseId}/renew")
def renew(
    instanceSlug: str,
    leaseId: str,
    principal: WriteInstances,
    session: WriteSession,
    body: RenewIn | None = None,
) -> Response:
    """Extend a live lease; an expired one is refused (409) and must be checked out again."""
    ttl = body.ttlSeconds if body is not None else None
    lease = service.renew(session, principal, instanceSlug, _lease_id(leaseId), ttl, utcnow())
    return json_response(lease_out(lease))


@router.delete("/instances/{instanceSlug}/leases/{leaseId}", status_code=204)
def release(
    instanceSlug: str, leaseId: str, principal: WriteInstances, session: WriteSession
) -> Response:
    """Return the seat now."""
    service.release(session, principal, instanceSlug, _lease_id(leaseId))
    return Response(status_code=204)
