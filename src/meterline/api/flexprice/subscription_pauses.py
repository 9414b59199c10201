"""/v1 subscription pause and resume (subscriptions/pauses.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import AppSettings, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.flexprice.subscriptions import full_subscription
from meterline.api.json import iso, json_response
from meterline.subscriptions import pauses
from meterline.subscriptions.models import SubscriptionPause

router = APIRouter(tags=["subscriptions"])


class PauseIn(WireModel):
    proration_behavior: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class ResumeIn(WireModel):
    # A resume always bills the new period's ADVANCE charges; no other behaviour is offered.
    unsupported = frozenset({"proration_behavior"})
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


def pause_out(pause: SubscriptionPause) -> dict[str, Any]:
    body = {
        "id": pause.id,
        "subscription_id": pause.subscription_id,
        "environment_id": pause.environment_id,
        "pause_status": pause.pause_status,
        "pause_mode": pause.pause_mode,
        "resume_mode": pause.resume_mode,
        "pause_start": iso(pause.pause_start),
        "pause_end": iso(pause.pause_end),
        "resumed_at": iso(pause.resumed_at),
        "original_period_start": iso(pause.original_period_start),
        "original_period_end": iso(pause.original_period_end),
        "reason": pause.reason,
        "metadata": pause.metadata_ or {},
        "status": pause.status,
        "created_at": iso(pause.created_at),
        "updated_at": iso(pause.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def _out(session: Any, result: pauses.PauseResult) -> dict[str, Any]:
    subscription = full_subscription(session, result.subscription)
    history = pauses.pauses_of(session, result.subscription.id)
    subscription["pauses"] = [pause_out(p) for p in history]
    return {"pause": pause_out(result.pause), "subscription": subscription}


@router.post("/subscriptions/{subscription_id}/pause", summary="Pause a subscription now")
def pause_subscription(
    subscription_id: str,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
    body: PauseIn | None = None,
) -> Response:
    body = body or PauseIn()
    result = pauses.pause(
        session,
        principal,
        subscription_id,
        proration_behavior=body.proration_behavior,
        reason=body.reason,
        metadata=body.metadata,
        grace=settings.billing.grace,
    )
    return json_response(_out(session, result))


@router.post("/subscriptions/{subscription_id}/resume", summary="Resume a paused subscription")
def resume_subscription(
    subscription_id: str,
    principal: Vendor,
    session: WriteSession,
    body: ResumeIn | None = None,
) -> Response:
    result = pauses.resume(
        session, principal, subscription_id, metadata=body.metadata if body else None
    )
    return json_response(_out(session, result))
