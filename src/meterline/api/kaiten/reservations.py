"""/api reservations on a usage counter (Meterline extension, Kaiten-shaped): hold an
amount, settle it with the actual amount, or release it. Rules: ``licensing/reservations.py``;
docs/licensing.md."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import Body, Page, ReadInstances, WriteInstances, compact
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.api.kaiten.usage import usage_out
from meterline.db.base import utcnow
from meterline.kernel import money
from meterline.licensing import reservations as service
from meterline.licensing.hold_models import UsageHold

router = APIRouter(tags=["reservations"])

DAY = 86400
_PATH = "/instances/{instanceSlug}/entitlements/{entitlementSlug}/reservations"


class HoldIn(Body):
    amount: money.Quantity = Field(gt=0)
    ttlSeconds: int = Field(default=300, ge=1, le=DAY)
    overage: Literal["reject", "cap", "allow"] = Field(
        default="reject", description="What a settlement above the amount does."
    )


class SettleIn(Body):
    amount: money.Quantity = Field(ge=0, description="The actual amount of the work.")


def hold_out(hold: UsageHold, **extra: Any) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(hold.id),
            "amount": hold.amount,
            "overage": hold.overage,
            "createdAt": iso(hold.created_at),
            "expiresAt": iso(hold.expires_at),
            **extra,
        }
    )


def _hold_id(given: str) -> str:
    return id_of(given, "hold", "reservation")


@router.get(_PATH)
def list_holds(
    instanceSlug: str,
    entitlementSlug: str,
    principal: ReadInstances,
    session: ReadSession,
    page: Page = Depends(),
) -> Response:
    """The counter's live reservations, oldest first."""
    window = (page.limit, page.offset)
    rows = service.holds(session, principal, instanceSlug, entitlementSlug, utcnow(), window)
    return page.answer(rows, hold_out)


@router.post(_PATH, status_code=201)
def hold(
    instanceSlug: str,
    entitlementSlug: str,
    body: HoldIn,
    principal: WriteInstances,
    session: WriteSession,
) -> Response:
    """Hold an amount of the entitlement until the TTL; 409 when it would pass the limit."""
    created = service.hold(
        session,
        principal,
        instanceSlug,
        entitlementSlug,
        amount=body.amount,
        ttl_seconds=body.ttlSeconds,
        overage=body.overage,
        now=utcnow(),
    )
    return json_response(hold_out(created), 201)


@router.post(_PATH + "/{reservationId}/settle")
def settle(
    instanceSlug: str,
    entitlementSlug: str,
    reservationId: str,
    body: SettleIn,
    principal: WriteInstances,
    session: WriteSession,
) -> Response:
    """Charge the actual amount (by the hold's overage rule) and end the hold."""
    done = service.settle(
        session,
        principal,
        instanceSlug,
        entitlementSlug,
        _hold_id(reservationId),
        actual=body.amount,
        now=utcnow(),
    )
    return json_response(
        hold_out(done.hold, settledAmount=done.charged, usage=usage_out(done.usage))
    )


@router.delete(_PATH + "/{reservationId}", status_code=204)
def release(
    instanceSlug: str,
    entitlementSlug: str,
    reservationId: str,
    principal: WriteInstances,
    session: WriteSession,
) -> Response:
    """End the hold without charging it."""
    service.release(session, principal, instanceSlug, entitlementSlug, _hold_id(reservationId))
    return Response(status_code=204)
