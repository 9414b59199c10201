"""/v1/activity: the activity log, newest first, paged by cursor (docs/exports.md).

``POST /v1/activity`` reads (its body is the question). The cursor is opaque: the
``next_cursor`` of the page before. ``expand`` renders nothing more and is refused.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.activity import service as activity
from meterline.activity.models import ActivityEntry
from meterline.activity.repository import ActivityQuery
from meterline.api.deps import ReadSession, Vendor, VendorRead
from meterline.api.flexprice.common import WireModel
from meterline.api.json import iso, json_response
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant

router = APIRouter(tags=["activity"])

MAX_LIMIT = 200
CURSOR_KIND = "act"


class ActivityListIn(WireModel):
    unsupported = frozenset({"expand"})
    actions: list[Annotated[str, Field(max_length=20)]] | None = Field(default=None, max_length=20)
    actor_id: str | None = Field(default=None, max_length=64)
    actor_types: list[Annotated[str, Field(max_length=20)]] | None = Field(
        default=None, max_length=5
    )
    cursor: str | None = Field(default=None, max_length=200)
    customer_id: str | None = Field(default=None, max_length=64)
    end_time: OptionalInstant = None
    entity_id: str | None = Field(default=None, max_length=255)
    entity_type: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    request_id: str | None = Field(default=None, max_length=128)
    start_time: OptionalInstant = None


def cursor_out(entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_KIND}:{entry_id}".encode()).decode("ascii")


def cursor_in(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        kind, _, entry_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition(":")
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidRequest("cursor is not valid", field="cursor") from exc
    if kind != CURSOR_KIND or not entry_id.startswith("act_") or len(entry_id) > 40:
        raise InvalidRequest("cursor is not valid", field="cursor")
    return entry_id


def entry_out(entry: ActivityEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "action": entry.action,
        "actor": {"id": entry.actor_id, "type": entry.actor_type, "label": entry.actor_id},
        "entity": {"id": entry.entity_id, "type": entry.entity_type, "label": entry.entity_type},
        "customer_id": entry.customer_id,
        "occurred_at": iso(entry.occurred_at),
        "request_id": entry.request_id,
        "source": entry.source,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "state": entry.state or {},
    }


@router.post("/activity", summary="List activity (the log of writes), newest first")
def list_activity(body: ActivityListIn, principal: VendorRead, session: ReadSession) -> Response:
    q = ActivityQuery(
        limit=body.limit,
        before_id=cursor_in(body.cursor),
        actions=body.actions,
        actor_id=body.actor_id,
        actor_types=body.actor_types,
        customer_id=body.customer_id,
        entity_id=body.entity_id,
        entity_type=body.entity_type,
        request_id=body.request_id,
        start_time=body.start_time,
        end_time=body.end_time,
    )
    found = activity.list_activity(session, principal, q)
    return json_response(
        {
            "items": [entry_out(e) for e in found.items],
            "pagination": {
                "has_more": found.has_more,
                "limit": body.limit,
                "next_cursor": cursor_out(found.next_cursor) if found.next_cursor else None,
            },
        }
    )


@router.get("/activity/{activity_id}", summary="Get one activity entry")
def get_activity(activity_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(entry_out(activity.get_activity(session, principal, activity_id)))
