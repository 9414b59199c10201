"""/api/instances/{instanceSlug}/audit-trails: an instance's audit trail, newest first."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Response

from meterline.api.deps import ReadSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import MAX_LIMIT, ReadInstances, compact, user
from meterline.api.kaiten.ids import wire_id
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import Instant
from meterline.licensing import audit
from meterline.licensing.distribution_models import AuditEntry
from meterline.licensing.instances import get_instance
from meterline.licensing.models import Instance

router = APIRouter(tags=["instances"])


def _cursor_in(cursor: str | None) -> int | None:
    """The ``seq`` a cursor stands for: entries before it come next."""
    if not cursor:
        return None
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition(":")
        if kind != "s" or not number.isdigit() or len(number) > 19:
            raise ValueError(cursor)
        return int(number)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidRequest("cursor is not valid", field="query.cursor") from exc


def _cursor_out(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode("ascii")).decode("ascii")


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def entry_out(entry: AuditEntry, instance: Instance) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(entry.id),
            "eventName": entry.event_name,
            "eventType": entry.event_type,
            "instanceId": wire_id(instance.id),
            "instanceSlug": instance.slug,
            "payload": entry.payload,
            "timestamp": iso(entry.created_at),
            "actor": user(entry.actor),
        }
    )


@router.get("/instances/{instanceSlug}/audit-trails")
def list_audit_trails(
    instanceSlug: str,
    principal: ReadInstances,
    session: ReadSession,
    event_name: str | None = Query(None, max_length=100, description="Only this event."),
    after: Instant | None = Query(None, description="Only entries at or after this instant."),
    before: Instant | None = Query(None, description="Only entries at or before this instant."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Page size, 1-200."),
    cursor: str | None = Query(None, max_length=100, description="From nextCursor."),
) -> Response:
    instance = get_instance(session, principal, instanceSlug)
    query = audit.TrailQuery(
        event_name=event_name,
        after=_utc(after),
        before=_utc(before),
        limit=limit,
        before_seq=_cursor_in(cursor),
    )
    rows = audit.trail(session, instance, query)
    body: dict[str, Any] = {
        "items": [entry_out(r, instance) for r in rows[:limit]],
        "hasMore": len(rows) > limit,
    }
    if len(rows) > limit:
        body["nextCursor"] = _cursor_out(rows[limit - 1].seq)
    return json_response(body)
