"""Every query of the activity log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.activity.models import ActivityEntry


@dataclass(frozen=True)
class ActivityQuery:
    """What a listing asks for; ``None`` or empty means "any"."""

    limit: int
    before_id: str | None = None  # the cursor: entries older than this one
    actions: Sequence[str] | None = None
    actor_id: str | None = None
    actor_types: Sequence[str] | None = None
    customer_id: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    request_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


def get(session: Session, environment_id: str, entry_id: str) -> ActivityEntry | None:
    return session.scalars(
        select(ActivityEntry).where(
            ActivityEntry.id == entry_id, ActivityEntry.environment_id == environment_id
        )
    ).first()


def page(session: Session, environment_id: str, q: ActivityQuery) -> list[ActivityEntry]:
    """Newest first, at most ``q.limit + 1`` rows (the extra one says there are more)."""
    stmt = select(ActivityEntry).where(ActivityEntry.environment_id == environment_id)
    if q.before_id is not None:
        stmt = stmt.where(ActivityEntry.id < q.before_id)
    if q.actions:
        stmt = stmt.where(ActivityEntry.action.in_(list(q.actions)))
    if q.actor_id:
        stmt = stmt.where(ActivityEntry.actor_id == q.actor_id)
    if q.actor_types:
        stmt = stmt.where(ActivityEntry.actor_type.in_(list(q.actor_types)))
    if q.customer_id:
        stmt = stmt.where(ActivityEntry.customer_id == q.customer_id)
    if q.entity_id:
        stmt = stmt.where(ActivityEntry.entity_id == q.entity_id)
    if q.entity_type:
        stmt = stmt.where(ActivityEntry.entity_type == q.entity_type)
    if q.request_id:
        stmt = stmt.where(ActivityEntry.request_id == q.request_id)
    if q.start_time is not None:
        stmt = stmt.where(ActivityEntry.occurred_at >= q.start_time)
    if q.end_time is not None:
        stmt = stmt.where(ActivityEntry.occurred_at < q.end_time)
    stmt = stmt.order_by(ActivityEntry.id.desc()).limit(q.limit + 1)
    return list(session.scalars(stmt).all())
