"""Subscription schedules: the changes waiting for a period's end, read and cancelled.

A schedule is made by a plan change at ``end_of_period`` (``changes.py``) and applied by the
billing clock (``schedule_runs.py``). Cancelling a pending one undoes what it staged; an
executed or cancelled one cannot be cancelled (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.pricing.fields import choice
from meterline.subscriptions import changes, repository, schedule_repository, service
from meterline.subscriptions.models import SubscriptionSchedule

SCHEDULE_TYPES = ("plan_change", "cancellation")
SCHEDULE_STATUSES = ("pending", "executing", "executed", "cancelled", "failed")


def get_schedule(session: Session, principal: Principal, schedule_id: str) -> SubscriptionSchedule:
    found = schedule_repository.schedule(session, principal.environment_id, schedule_id)
    return existing(found, "subscription schedule", schedule_id)


def pending_of_subscription(
    session: Session, principal: Principal, subscription_id: str
) -> list[SubscriptionSchedule]:
    """The subscription's pending schedules, soonest first (404 for another tenant's)."""
    sub = service.get_subscription(session, principal, subscription_id)
    return schedule_repository.pending_for(session, [sub.id])


def search_schedules(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    subscription_id: str | None = None,
    subscription_ids: Sequence[str] | None = None,
    schedule_types: Sequence[str] | None = None,
    schedule_statuses: Sequence[str] | None = None,
    pending_only: bool = False,
) -> tuple[list[SubscriptionSchedule], int]:
    """The environment's schedules matching every filter given; the subscription filters
    intersect, and ``pending_only`` narrows the statuses to pending."""
    wanted: set[str] | None = None
    for ids in ([subscription_id] if subscription_id else None, subscription_ids):
        if ids:
            wanted = set(ids) if wanted is None else wanted & set(ids)
    for value in schedule_types or ():
        choice(value, SCHEDULE_TYPES, "schedule_type")
    statuses = list(schedule_statuses or ())
    for value in statuses:
        choice(value, SCHEDULE_STATUSES, "schedule_status")
    if pending_only:
        statuses = [s for s in statuses if s == "pending"] if statuses else ["pending"]
        if not statuses:
            return [], 0
    q = schedule_repository.ScheduleQuery(
        subscription_ids=None if wanted is None else sorted(wanted),
        schedule_types=schedule_types,
        schedule_statuses=statuses or None,
    )
    return schedule_repository.search(
        session, principal.environment_id, q, limit=limit, offset=offset
    )


def cancel_schedule(
    session: Session,
    principal: Principal,
    schedule_id: str | None,
    *,
    subscription_id: str | None = None,
    schedule_type: str | None = None,
) -> SubscriptionSchedule:
    """Cancels a pending schedule, named by id or as the subscription's pending schedule of
    ``schedule_type``; what it staged is undone, so the period ends as if it never was."""
    if schedule_id:
        found = get_schedule(session, principal, schedule_id)
        if subscription_id and found.subscription_id != subscription_id:
            raise InvalidRequest(
                "the schedule belongs to another subscription", field="subscription_id"
            )
        if schedule_type and found.schedule_type != schedule_type:
            raise InvalidRequest(
                f"the schedule is a {found.schedule_type}, not a {schedule_type}",
                field="schedule_type",
            )
    else:
        if not subscription_id or not schedule_type:
            raise InvalidRequest(
                "schedule_id, or subscription_id and schedule_type, are required",
                field="schedule_id",
            )
        kind = choice(schedule_type, SCHEDULE_TYPES, "schedule_type")
        sub = service.get_subscription(session, principal, subscription_id)
        pending = schedule_repository.pending_for(session, [sub.id], kind)
        if not pending:
            raise NotFound("pending subscription schedule", f"{kind} of {sub.id}")
        found = pending[0]
    # The subscription first, as a plan change and the clock lock it: no deadlock, and a
    # clock applying this schedule right now is waited for.
    sub = repository.lock(
        session, service.get_subscription(session, principal, found.subscription_id)
    )
    found = schedule_repository.lock(session, found)
    now = utcnow()
    _check_cancellable(found, now)
    changes.undo_staged(session, found, now, reason="cancelled")
    sub.version += 1
    sub.updated_at = now
    session.flush()
    return found


def _check_cancellable(found: SubscriptionSchedule, now: datetime) -> None:
    if found.schedule_status != "pending":
        raise Conflict(
            f"the schedule is {found.schedule_status}: only a pending schedule can be cancelled",
            details={"schedule_status": found.schedule_status},
        )
    if found.scheduled_at <= now:
        # Its boundary has passed: the next billing run applies it with the period's close.
        raise Conflict(
            "the schedule's time has passed: it is applied with the period's close",
            details={"scheduled_at": found.scheduled_at.isoformat()},
        )


def can_be_cancelled(found: SubscriptionSchedule, now: datetime) -> bool:
    return found.schedule_status == "pending" and found.scheduled_at > now
