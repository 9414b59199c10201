"""Every query of tasks, uploads and scheduled tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.db.search import page
from meterline.exports.models import ScheduledTask, Task, TaskUpload

SORTABLE = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "completed_at": Task.completed_at,
    "id": Task.id,
}


@dataclass(frozen=True)
class TaskQuery:
    limit: int
    offset: int
    created_by: str | None = None
    entity_type: str | None = None
    scheduled_task_id: str | None = None
    status: str | None = None
    task_status: str | None = None
    task_type: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    sort: str = "created_at"
    descending: bool = True


def task(session: Session, environment_id: str, task_id: str) -> Task | None:
    return session.scalars(
        select(Task).where(Task.id == task_id, Task.environment_id == environment_id)
    ).first()


def export_by_upload(session: Session, environment_id: str, upload_id: str) -> Task | None:
    return session.scalars(
        select(Task).where(
            Task.environment_id == environment_id,
            Task.task_type == "EXPORT",
            Task.upload_id == upload_id,
        )
    ).first()


def search_tasks(session: Session, environment_id: str, q: TaskQuery) -> tuple[list[Task], int]:
    stmt: Select[Any] = select(Task).where(Task.environment_id == environment_id)
    equals: tuple[tuple[Any, str | None], ...] = (
        (Task.created_by, q.created_by),
        (Task.entity_type, q.entity_type),
        (Task.scheduled_task_id, q.scheduled_task_id),
        (Task.status, q.status),
        (Task.task_status, q.task_status),
        (Task.task_type, q.task_type),
    )
    for attribute, value in equals:
        if value is not None:
            stmt = stmt.where(attribute == value)
    if q.start_time is not None:
        stmt = stmt.where(Task.created_at >= q.start_time)
    if q.end_time is not None:
        stmt = stmt.where(Task.created_at < q.end_time)
    column = SORTABLE[q.sort]
    order = (column.desc(), Task.id.desc()) if q.descending else (column.asc(), Task.id.asc())
    return page(session, stmt.order_by(*order), q.limit, q.offset)


def insert_export(session: Session, row: Task) -> bool:
    """Inserts ``row`` unless an export with its ``upload_id`` exists (the claim of a
    schedule's tick); False when another insert won."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def claim_pending_exports(session: Session, now: datetime, limit: int) -> list[Task]:
    """Moves up to ``limit`` pending exports to PROCESSING and returns them: each is
    claimed by exactly one caller (the conditional update only one transaction wins)."""
    ids = list(
        session.scalars(
            select(Task.id)
            .where(Task.task_type == "EXPORT", Task.task_status == "PENDING")
            .order_by(Task.created_at, Task.id)
            .limit(limit)
        ).all()
    )
    claimed = []
    for task_id in ids:
        won: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Task)
            .where(Task.id == task_id, Task.task_status == "PENDING")
            .values(task_status="PROCESSING", started_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount:
            claimed.append(task_id)
    if not claimed:
        return []
    session.expire_all()
    return list(session.scalars(select(Task).where(Task.id.in_(claimed))).all())


def upload(session: Session, environment_id: str, upload_id: str) -> TaskUpload | None:
    return session.scalars(
        select(TaskUpload).where(
            TaskUpload.id == upload_id, TaskUpload.environment_id == environment_id
        )
    ).first()


def scheduled_task(session: Session, environment_id: str, task_id: str) -> ScheduledTask | None:
    return session.scalars(
        select(ScheduledTask).where(
            ScheduledTask.id == task_id,
            ScheduledTask.environment_id == environment_id,
            ScheduledTask.status == "published",
        )
    ).first()


def search_scheduled(
    session: Session,
    environment_id: str,
    *,
    limit: int,
    offset: int,
    connection_id: str | None = None,
    entity_type: str | None = None,
    interval: str | None = None,
    enabled: bool | None = None,
) -> tuple[list[ScheduledTask], int]:
    stmt: Select[Any] = select(ScheduledTask).where(
        ScheduledTask.environment_id == environment_id, ScheduledTask.status == "published"
    )
    for column, value in (
        (ScheduledTask.connection_id, connection_id),
        (ScheduledTask.entity_type, entity_type),
        (ScheduledTask.interval, interval),
        (ScheduledTask.enabled, enabled),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(ScheduledTask.created_at.desc(), ScheduledTask.id.desc())
    return page(session, stmt, limit, offset)


def enabled_schedules(session: Session, *, after_id: str | None, limit: int) -> list[ScheduledTask]:
    """Enabled schedules of every environment, by id, a page at a time (the job's walk)."""
    stmt = select(ScheduledTask).where(
        ScheduledTask.status == "published", ScheduledTask.enabled.is_(True)
    )
    if after_id is not None:
        stmt = stmt.where(ScheduledTask.id > after_id)
    return list(session.scalars(stmt.order_by(ScheduledTask.id).limit(limit)).all())


def latest_window(session: Session, schedule_id: str) -> datetime | None:
    """The start of the latest window a schedule's ticks exported."""
    return session.scalar(
        select(Task.range_start)
        .where(Task.scheduled_task_id == schedule_id, Task.upload_id.like("schedule:%"))
        .order_by(Task.range_start.desc())
        .limit(1)
    )


def tasks_named(session: Session, environment_id: str, ids: Sequence[str]) -> list[Task]:
    return list(
        session.scalars(
            select(Task).where(Task.environment_id == environment_id, Task.id.in_(list(ids)))
        ).all()
    )
