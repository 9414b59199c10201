"""The activity log, read one environment at a time (writing is the recorder's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.activity import repository
from meterline.activity.models import ActivityEntry
from meterline.activity.repository import ActivityQuery
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidRequest


@dataclass(frozen=True)
class ActivityPage:
    items: list[ActivityEntry]
    has_more: bool
    next_cursor: str | None  # the id of the last entry, when there are more


def list_activity(session: Session, principal: Principal, q: ActivityQuery) -> ActivityPage:
    if q.start_time and q.end_time and q.end_time <= q.start_time:
        raise InvalidRequest("end_time must be after start_time", field="end_time")
    rows = repository.page(session, principal.environment_id, q)
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return ActivityPage(rows, more, rows[-1].id if more and rows else None)


def get_activity(session: Session, principal: Principal, entry_id: str) -> ActivityEntry:
    found = repository.get(session, principal.environment_id, entry_id)
    return existing(found, "activity", entry_id)
