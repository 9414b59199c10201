"""Every query of subscription schedules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.rows import in_environment
from meterline.db.search import page
from meterline.subscriptions.models import SubscriptionSchedule

PENDING = "pending"


def schedule(
    session: Session, environment_id: str, schedule_id: str
) -> SubscriptionSchedule | None:
    return in_environment(
        session, SubscriptionSchedule, environment_id, SubscriptionSchedule.id == schedule_id
    )


def lock(session: Session, found: SubscriptionSchedule) -> SubscriptionSchedule:
    """``found`` re-read under its row lock (see ``repository.lock``)."""
    return session.scalars(
        select(SubscriptionSchedule)
        .where(SubscriptionSchedule.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def pending_for(
    session: Session, subscription_ids: Sequence[str], schedule_type: str | None = None
) -> list[SubscriptionSchedule]:
    """The pending schedules of the subscriptions, earliest first (one query for a batch)."""
    if not subscription_ids:
        return []
    stmt = select(SubscriptionSchedule).where(
        SubscriptionSchedule.subscription_id.in_(list(subscription_ids)),
        SubscriptionSchedule.schedule_status == PENDING,
        SubscriptionSchedule.status == "published",
    )
    if schedule_type is not None:
        stmt = stmt.where(SubscriptionSchedule.schedule_type == schedule_type)
    return list(
        session.scalars(stmt.order_by(SubscriptionSchedule.scheduled_at, SubscriptionSchedule.id))
    )


@dataclass(frozen=True)
class ScheduleQuery:
    """What a schedule list selects; every field set narrows the result."""

    subscription_ids: Sequence[str] | None = None
    schedule_types: Sequence[str] | None = None
    schedule_statuses: Sequence[str] | None = None


ORDER: tuple[InstrumentedAttribute[Any], ...] = (
    SubscriptionSchedule.scheduled_at,
    SubscriptionSchedule.id,
)


def search(
    session: Session, environment_id: str, q: ScheduleQuery, *, limit: int, offset: int
) -> tuple[list[SubscriptionSchedule], int]:
    """The environment's schedules matching ``q``, soonest first, one page and the total."""
    stmt = select(SubscriptionSchedule).where(
        SubscriptionSchedule.environment_id == environment_id,
        SubscriptionSchedule.status == "published",
    )
    if q.subscription_ids is not None:
        stmt = stmt.where(SubscriptionSchedule.subscription_id.in_(list(q.subscription_ids)))
    if q.schedule_types:
        stmt = stmt.where(SubscriptionSchedule.schedule_type.in_(list(q.schedule_types)))
    if q.schedule_statuses:
        stmt = stmt.where(SubscriptionSchedule.schedule_status.in_(list(q.schedule_statuses)))
    return page(session, stmt.order_by(*ORDER), limit, offset)
