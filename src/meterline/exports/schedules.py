"""Scheduled exports: each tick of a schedule exports the window that just ended.

Windows are aligned on UTC multiples of the interval (15 or 30 minutes, an hour, a day).
The first window exported is the one the schedule was created in; a tick exports every
window that has ended since the last one exported, oldest first (at most
:data:`MAX_CATCH_UP` per tick, so a long outage is caught up over several ticks). Each
window is one export task, claimed by inserting it: its ``upload_id``
(``schedule:<id>:<window start>``) is unique among the environment's exports, so however
many processes run the job, each tick of each schedule is exported exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id
from meterline.db.rows import existing
from meterline.exports import repository
from meterline.exports.models import ScheduledTask, Task
from meterline.exports.service import export_range, new_export
from meterline.kernel.errors import InvalidRequest

INTERVALS = {
    "15MIN": timedelta(minutes=15),
    "30MIN": timedelta(minutes=30),
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}
# The SDK's scheduled entity types this server exports, and the export each one runs.
ENTITIES = {"events": "EVENTS", "invoice": "INVOICES"}
CONNECTION = "meterline"  # the server keeps (streams) the files itself
MAX_CATCH_UP = 96
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CreateSchedule:
    connection_id: str
    entity_type: str
    interval: str
    enabled: bool = True


def window_floor(moment: datetime, step: timedelta) -> datetime:
    """The start of the window ``moment`` falls in."""
    return EPOCH + ((moment - EPOCH) // step) * step


def due_windows(
    created_at: datetime, last_start: datetime | None, step: timedelta, now: datetime
) -> list[datetime]:
    """The starts of the windows to export at ``now``: ended, not exported yet."""
    first = window_floor(created_at, step) if last_start is None else last_start + step
    windows: list[datetime] = []
    start = first
    while start + step <= now and len(windows) < MAX_CATCH_UP:
        windows.append(start)
        start += step
    return windows


def _check(command: CreateSchedule) -> tuple[str, str]:
    if command.connection_id.strip().lower() != CONNECTION:
        raise InvalidRequest(
            f"connection_id {command.connection_id!r} is not supported: this server keeps"
            f" exports itself; use {CONNECTION!r}",
            field="connection_id",
        )
    if command.entity_type not in ENTITIES:
        raise InvalidRequest(
            f"entity_type {command.entity_type!r} cannot be scheduled; one of"
            f" {', '.join(ENTITIES)}",
            field="entity_type",
            details={"allowed_values": list(ENTITIES)},
        )
    if command.interval not in INTERVALS:
        raise InvalidRequest(
            f"interval {command.interval!r} is not supported; one of {', '.join(INTERVALS)}",
            field="interval",
            details={"allowed_values": list(INTERVALS)},
        )
    return CONNECTION, command.entity_type


def create_schedule(
    session: Session, principal: Principal, command: CreateSchedule, now: datetime
) -> ScheduledTask:
    connection, entity = _check(command)
    schedule = ScheduledTask(
        environment_id=principal.environment_id,
        connection_id=connection,
        entity_type=entity,
        interval=command.interval,
        enabled=command.enabled,
        job_config={},
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, principal: Principal, schedule_id: str) -> ScheduledTask:
    found = repository.scheduled_task(session, principal.environment_id, schedule_id)
    return existing(found, "scheduled task", schedule_id)


def list_schedules(
    session: Session, principal: Principal, **filters: Any
) -> tuple[list[ScheduledTask], int]:
    return repository.search_scheduled(session, principal.environment_id, **filters)


def set_enabled(
    session: Session, principal: Principal, schedule_id: str, enabled: bool
) -> ScheduledTask:
    schedule = get_schedule(session, principal, schedule_id)
    schedule.enabled = enabled
    session.flush()
    return schedule


def delete_schedule(session: Session, principal: Principal, schedule_id: str) -> None:
    schedule = get_schedule(session, principal, schedule_id)
    schedule.status = "archived"
    schedule.enabled = False
    session.flush()


@dataclass(frozen=True)
class ForcedRun:
    task: Task
    mode: str  # "custom" (the range given) or "automatic" (the last window that ended)


def trigger_run(
    session: Session,
    principal: Principal,
    schedule_id: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> ForcedRun:
    """An export of the schedule now: of ``start``–``end``, or of its last ended window.
    A run is a task of its own, beside the ticks (it claims no window)."""
    schedule = get_schedule(session, principal, schedule_id)
    entity = ENTITIES[schedule.entity_type]
    if start is None and end is None:
        step = INTERVALS[schedule.interval]
        end = window_floor(now, step)
        start = end - step
        mode = "automatic"
    else:
        if start is None or end is None:
            raise InvalidRequest("start_time and end_time go together", field="start_time")
        mode = "custom"
    start, end = export_range(entity, start, end, now)
    task = new_export(
        schedule.environment_id,
        entity,
        schedule.file_type,
        f"run:{schedule.id}:{new_id('run')}",
        start,
        end,
        now,
        created_by=principal.user_id,
        scheduled_task_id=schedule.id,
    )
    session.add(task)
    session.flush()
    return ForcedRun(task, mode)


def tick(session: Session, schedule: ScheduledTask, now: datetime) -> int:
    """Claims and creates the export of every due window of ``schedule``; the number it
    created (a window another process claimed first is not counted)."""
    step = INTERVALS.get(schedule.interval)
    entity = ENTITIES.get(schedule.entity_type)
    if step is None or entity is None:
        return 0
    last = repository.latest_window(session, schedule.id)
    created = 0
    for start in due_windows(schedule.created_at, last, step, now):
        task = new_export(
            schedule.environment_id,
            entity,
            schedule.file_type,
            f"schedule:{schedule.id}:{start.isoformat()}",
            start,
            start + step,
            now,
            scheduled_task_id=schedule.id,
        )
        if repository.insert_export(session, task):
            created += 1
    return created


@dataclass(frozen=True)
class PageOf:
    """The page a listing was asked for."""

    limit: int
    offset: int
