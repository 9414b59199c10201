"""Tasks: exports (prepared by the export job, streamed when downloaded) and imports
(applied when created). One environment at a time; see docs/exports.md.

* An export names an entity (:data:`sources.SOURCES`), a format (CSV, or JSON: one object
  per line) and, in ``metadata``, a range ``start_time``/``end_time`` over the entity's
  time column. Events and usage need both ends; no range may pass
  :data:`MAX_EXPORT_RANGE`. ``upload_id`` is the export's idempotency key: the same key
  with the same request answers the same task, with another request a 409.
* An import names an upload (``POST /v1/tasks/uploads``) and is applied at once
  (exports/imports.py): the task answers COMPLETED with its counts, or the request is
  refused with the rejected rows and nothing is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.engine import EVENTS_INFO, Database
from meterline.db.rows import existing
from meterline.exports import formats, imports, repository, sources
from meterline.exports.models import Task, TaskUpload
from meterline.exports.repository import TaskQuery
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest
from meterline.kernel.instants import InstantError, parse_instant

MAX_EXPORT_RANGE = timedelta(days=366)
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
PROVIDERS = ("meterline", "flexprice")  # this server keeps (streams) the file
EXPORTABLE = tuple(sources.SOURCES)
IMPORTABLE = ("CUSTOMERS",)
FILE_TYPE_NAMES = {"CSV": formats.CSV, "JSON": formats.JSON, "NDJSON": formats.JSON}


@dataclass(frozen=True)
class CreateTask:
    task_type: str
    entity_type: str
    file_type: str
    file_provider: str
    upload_id: str
    file_name: str | None = None
    metadata: dict[str, Any] | None = None


def _choice(value: str, allowed: tuple[str, ...], field: str, what: str) -> str:
    upper = value.strip().upper()
    if upper not in allowed:
        raise InvalidRequest(
            f"{field} {value!r} cannot be {what}; one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return upper


def _instant(metadata: dict[str, Any], name: str) -> datetime | None:
    raw = metadata.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_instant(str(raw))
    except InstantError as exc:
        raise InvalidRequest(f"metadata.{name}: {exc}", field=f"metadata.{name}") from exc


def export_range(
    entity_type: str, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The range an export reads, checked against :data:`MAX_EXPORT_RANGE`."""
    source = sources.SOURCES[entity_type]
    if start is not None and end is None:
        end = now
    if source.needs_range and (start is None or end is None):
        raise InvalidRequest(
            f"an export of {entity_type} needs metadata.start_time and metadata.end_time"
            f" (at most {MAX_EXPORT_RANGE.days} days apart)",
            field="metadata.start_time",
        )
    if end is not None and start is None:
        raise InvalidRequest(
            "metadata.end_time needs metadata.start_time: an unbounded range is refused",
            field="metadata.start_time",
        )
    if start is not None and end is not None:
        if end <= start:
            raise InvalidRequest(
                "metadata.end_time must be after metadata.start_time", field="metadata.end_time"
            )
        if end - start > MAX_EXPORT_RANGE:
            raise InvalidRequest(
                f"an export covers at most {MAX_EXPORT_RANGE.days} days",
                field="metadata.end_time",
                details={"max_days": MAX_EXPORT_RANGE.days},
            )
    return start, end


def iso_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def new_export(
    environment_id: str,
    entity_type: str,
    file_type: str,
    upload_id: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    *,
    created_by: str | None = None,
    file_name: str | None = None,
    metadata: dict[str, Any] | None = None,
    scheduled_task_id: str | None = None,
) -> Task:
    # The range read travels in the metadata (TaskResponse has no field for it), also for
    # the exports a schedule creates.
    shown = {
        "start_time": iso_text(start),
        "end_time": iso_text(end),
        **(metadata or {}),
    }
    task = Task(
        environment_id=environment_id,
        task_type="EXPORT",
        entity_type=entity_type,
        file_type=file_type,
        file_provider="meterline",
        upload_id=upload_id,
        file_name=file_name,
        task_status="PENDING",
        metadata_={k: v for k, v in shown.items() if v is not None},
        range_start=start,
        range_end=end,
        snapshot_at=now,
        scheduled_task_id=scheduled_task_id,
        created_by=created_by,
        updated_by=created_by,
        created_at=now,
        updated_at=now,
    )
    return task


def create_task(session: Session, principal: Principal, command: CreateTask, now: datetime) -> Task:
    task_type = _choice(command.task_type, ("EXPORT", "IMPORT"), "task_type", "run")
    file_type = FILE_TYPE_NAMES.get(command.file_type.strip().upper())
    if file_type is None:
        raise InvalidRequest(
            f"file_type {command.file_type!r} is not supported; CSV or JSON",
            field="file_type",
        )
    if command.file_provider.strip().lower() not in PROVIDERS:
        raise InvalidRequest(
            f"file_provider {command.file_provider!r} is not supported: this server keeps"
            " the files itself (meterline)",
            field="file_provider",
        )
    upload_id = command.upload_id.strip()
    if not upload_id:
        raise InvalidRequest("upload_id is required", field="upload_id")
    metadata = dict(command.metadata or {})
    if task_type == "IMPORT":
        return _run_import(session, principal, command, file_type, upload_id, metadata, now)
    entity = _choice(command.entity_type, EXPORTABLE, "entity_type", "exported")
    store = getattr(session.info.get(EVENTS_INFO), "store", "sql")
    if entity == "EVENTS" and store != "sql":
        raise InvalidOperation("events are exported from the SQL event store only")
    start, end = export_range(
        entity, _instant(metadata, "start_time"), _instant(metadata, "end_time"), now
    )
    same = repository.export_by_upload(session, principal.environment_id, upload_id)
    if same is not None:
        if (same.entity_type, same.file_type, same.range_start, same.range_end) != (
            entity,
            file_type,
            start,
            end,
        ):
            raise AlreadyExists(
                "upload_id already names another export", details={"field": "upload_id"}
            )
        return same
    task = new_export(
        principal.environment_id,
        entity,
        file_type,
        upload_id,
        start,
        end,
        now,
        created_by=principal.user_id,
        file_name=command.file_name,
        metadata=metadata,
    )
    if not repository.insert_export(session, task):
        raced = repository.export_by_upload(session, principal.environment_id, upload_id)
        return existing(raced, "task", upload_id)
    return task


def _run_import(
    session: Session,
    principal: Principal,
    command: CreateTask,
    file_type: str,
    upload_id: str,
    metadata: dict[str, Any],
    now: datetime,
) -> Task:
    _choice(command.entity_type, IMPORTABLE, "entity_type", "imported")
    if file_type != formats.CSV:
        raise InvalidRequest("imports read CSV files only", field="file_type")
    upload = repository.upload(session, principal.environment_id, upload_id)
    if upload is None:
        raise InvalidRequest(f"upload_id {upload_id!r} names no upload", field="upload_id")
    try:
        text = upload.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the file is not UTF-8 text", field="upload_id") from exc
    if "\x00" in text:
        raise InvalidRequest("the file may not contain the NUL character", field="upload_id")
    outcome = imports.import_customers(session, principal, text)
    task = Task(
        environment_id=principal.environment_id,
        task_type="IMPORT",
        entity_type="CUSTOMERS",
        file_type=file_type,
        file_provider="meterline",
        upload_id=upload_id,
        file_name=command.file_name or upload.file_name,
        task_status="COMPLETED",
        metadata_=metadata,
        total_records=outcome.rows,
        processed_records=outcome.rows,
        successful_records=outcome.rows,
        failed_records=0,
        report=outcome.report(),
        started_at=now,
        completed_at=now,
        created_by=principal.user_id,
        updated_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    return task


def store_upload(
    session: Session, principal: Principal, content: bytes, file_name: str | None, now: datetime
) -> TaskUpload:
    if not content:
        raise InvalidRequest("the upload is empty", field="body")
    upload = TaskUpload(
        environment_id=principal.environment_id,
        file_name=file_name,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_at=now,
        created_by=principal.user_id,
    )
    session.add(upload)
    session.flush()
    return upload


def get_task(session: Session, principal: Principal, task_id: str) -> Task:
    return existing(repository.task(session, principal.environment_id, task_id), "task", task_id)


def list_tasks(session: Session, principal: Principal, q: TaskQuery) -> tuple[list[Task], int]:
    if q.sort not in repository.SORTABLE:
        raise InvalidRequest(
            f"sort {q.sort!r} is not supported; one of {', '.join(repository.SORTABLE)}",
            field="sort",
        )
    return repository.search_tasks(session, principal.environment_id, q)


# A client may cancel (FAILED) a task that has not ended, or ask a failed export again
# (PENDING); COMPLETED is the export job's to set.
CLIENT_TRANSITIONS = {
    ("PENDING", "FAILED"),
    ("PROCESSING", "FAILED"),
    ("FAILED", "PENDING"),
}


def update_status(
    session: Session, principal: Principal, task_id: str, wanted: str, now: datetime
) -> Task:
    task = get_task(session, principal, task_id)
    wanted = wanted.strip().upper()
    if wanted == task.task_status:
        return task
    if (task.task_status, wanted) not in CLIENT_TRANSITIONS or (
        wanted == "PENDING" and task.task_type != "EXPORT"
    ):
        raise InvalidOperation(
            f"a {task.task_status} task cannot be set {wanted}",
            details={"field": "task_status"},
        )
    task.task_status = wanted
    task.updated_by = principal.user_id
    if wanted == "FAILED":
        task.failed_at = now
        task.error_summary = "cancelled by the client"
    else:
        task.failed_at = None
        task.error_summary = None
        task.started_at = None
    session.flush()
    return task


def ready_export(session: Session, principal: Principal, task_id: str) -> Task:
    task = get_task(session, principal, task_id)
    if task.task_type != "EXPORT":
        raise InvalidOperation("only an export has a file to download")
    if task.task_status != "COMPLETED":
        raise InvalidOperation(
            f"the export is {task.task_status}: its file can be downloaded once COMPLETED",
            reason="not_ready",
        )
    return task


def window_of(task: Task) -> sources.Window:
    assert task.snapshot_at is not None
    return sources.Window(task.environment_id, task.range_start, task.range_end, task.snapshot_at)


def process_export(session: Session, task: Task, now: datetime) -> None:
    """Counts the export's rows and marks it COMPLETED (the export job's step)."""
    source = sources.SOURCES[task.entity_type]
    total = sources.count(session, source, window_of(task))
    task.total_records = task.processed_records = task.successful_records = total
    task.failed_records = 0
    task.task_status = "COMPLETED"
    task.completed_at = now
    task.updated_at = now
    session.flush()


def export_file(db: Database, task: Task) -> Iterator[bytes]:
    """The export's file, streamed: its own read transaction, a batch of rows at a time.
    What it reads is taken from ``task`` now (the caller's session may end first)."""
    source = sources.SOURCES[task.entity_type]
    window = window_of(task)
    file_type = task.file_type

    def stream() -> Iterator[bytes]:
        with db.session(write=False) as session:
            yield from formats.encode(
                sources.rows(session, source, window), source.layout, file_type
            )

    return stream()


def file_name(task: Task) -> str:
    return f"{task.entity_type.lower()}-{task.id}.{formats.extension(task.file_type)}"
