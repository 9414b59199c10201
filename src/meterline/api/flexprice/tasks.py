"""/v1/tasks: exports and imports (docs/exports.md).

* ``POST /v1/tasks`` creates an export (PENDING until the export job prepares it) or runs
  an import (answered COMPLETED, or 400 with the rejected rows and nothing written).
* ``POST /v1/tasks/uploads`` (a Meterline extension) takes the CSV an import reads: the
  raw body (at most the body limit, else 413), answered with its ``upload_id``.
* ``GET /v1/tasks/{id}/download`` answers ``{"download_url": ...}``; that URL
  (``GET /v1/tasks/{id}/file``, the caller's key required) streams the file.
* ``PUT /v1/tasks/{id}/status``: cancel (FAILED) or retry (PENDING) a task.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.responses import Response, StreamingResponse

from meterline.api.deps import ReadSession, Vendor, WriteSession, database
from meterline.api.flexprice.common import MAX_OFFSET, WireModel, list_response
from meterline.api.flexprice.filters import refuse_expand
from meterline.api.json import iso, json_response
from meterline.exports import formats
from meterline.exports import service as tasks
from meterline.exports.models import Task
from meterline.exports.repository import TaskQuery
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant, SystemClock

router = APIRouter(tags=["tasks"])
CLOCK = SystemClock()

# Metadata is stored and echoed: text, whole numbers within JSON's exact range, flags.
MetadataValue = (
    Annotated[str, Field(max_length=500)]
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
    | bool
    | None
)


class TaskIn(WireModel):
    entity_type: str = Field(max_length=32)
    file_provider: str = Field(max_length=32)
    file_type: str = Field(max_length=10)
    task_type: str = Field(max_length=10)
    upload_id: str = Field(max_length=255)
    file_name: str | None = Field(default=None, max_length=255)
    metadata: dict[str, MetadataValue] | None = Field(default=None, max_length=50)

    def command(self) -> tasks.CreateTask:
        return tasks.CreateTask(**dict(self))


class TaskStatusIn(WireModel):
    task_status: str = Field(max_length=20)


def wake_exports(request: Request) -> None:
    """Starts the export job's next tick now (when this process runs it)."""
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is None:
        return
    for state in jobs:
        if state.job.name == "exports" and state.job.wakeup is not None:
            state.job.wakeup.set()


def task_out(task: Task) -> dict[str, Any]:
    ready = task.task_type == "EXPORT" and task.task_status == "COMPLETED"
    return {
        "id": task.id,
        "task_type": task.task_type,
        "entity_type": task.entity_type,
        "file_type": task.file_type,
        "file_name": task.file_name,
        "file_url": f"/v1/tasks/{task.id}/file" if ready else None,
        "task_status": task.task_status,
        "status": task.status,
        "metadata": {**(task.metadata_ or {}), **({"report": task.report} if task.report else {})},
        "total_records": task.total_records,
        "processed_records": task.processed_records,
        "successful_records": task.successful_records,
        "failed_records": task.failed_records,
        "error_summary": task.error_summary,
        "scheduled_task_id": task.scheduled_task_id,
        "workflow_id": task.id,
        "started_at": iso(task.started_at),
        "completed_at": iso(task.completed_at),
        "failed_at": iso(task.failed_at),
        "environment_id": task.environment_id,
        "tenant_id": None,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "created_by": task.created_by,
        "updated_by": task.updated_by,
    }


def workflow_out(task: Task) -> dict[str, Any]:
    return {
        "workflow_id": task.id,
        "run_id": task.id,
        "message": f"{task.task_type.lower()} {task.task_status}",
    }


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # bounded by the body pipeline (413 past the limit)


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.post("/tasks/uploads", status_code=201, summary="Upload a file for an import")
def upload_file(
    content: RawBody,
    principal: Vendor,
    session: WriteSession,
    file_name: str | None = Query(default=None, max_length=255),
) -> Response:
    upload = tasks.store_upload(session, principal, content, file_name, CLOCK.now())
    return json_response(
        {
            "upload_id": upload.id,
            "file_name": upload.file_name,
            "size_bytes": upload.size_bytes,
            "sha256": upload.sha256,
        },
        201,
    )


@router.post("/tasks", summary="Create an export or run an import")
def create_task(
    body: TaskIn, request: Request, principal: Vendor, session: WriteSession
) -> Response:
    task = tasks.create_task(session, principal, body.command(), CLOCK.now())
    if task.task_status == "PENDING":
        wake_exports(request)
    return json_response(workflow_out(task))


@router.get("/tasks", summary="List tasks")
def list_tasks(
    principal: Vendor,
    session: ReadSession,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    created_by: str | None = Query(default=None, max_length=64),
    entity_type: str | None = Query(default=None, max_length=32),
    scheduled_task_id: str | None = Query(default=None, max_length=64),
    status: str | None = Query(default=None, max_length=20),
    task_status: str | None = Query(default=None, max_length=20),
    task_type: str | None = Query(default=None, max_length=10),
    sort: str | None = Query(default=None, max_length=32),
    order: str | None = Query(default=None, max_length=4),
    expand: str | None = Query(default=None, max_length=100),
    start_time: OptionalInstant = None,
    end_time: OptionalInstant = None,
) -> Response:
    refuse_expand(expand)
    if order not in (None, "asc", "desc"):
        raise InvalidRequest("order must be asc or desc", field="order")
    q = TaskQuery(
        limit=limit,
        offset=offset,
        created_by=created_by,
        entity_type=entity_type.upper() if entity_type else None,
        scheduled_task_id=scheduled_task_id,
        status=status,
        task_status=task_status.upper() if task_status else None,
        task_type=task_type.upper() if task_type else None,
        start_time=start_time,
        end_time=end_time,
        sort=sort or "created_at",
        descending=order != "asc",
    )
    found, total = tasks.list_tasks(session, principal, q)
    return list_response([task_out(t) for t in found], total, q)


@router.get("/tasks/result", summary="The result of a task's run")
def task_result(
    principal: Vendor,
    session: ReadSession,
    workflow_id: str = Query(max_length=64),
) -> Response:
    return json_response(workflow_out(tasks.get_task(session, principal, workflow_id)))


@router.get("/tasks/{task_id}", summary="Get a task")
def get_task(task_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(task_out(tasks.get_task(session, principal, task_id)))


@router.put("/tasks/{task_id}/status", summary="Cancel or retry a task")
def update_task_status(
    task_id: str, body: TaskStatusIn, request: Request, principal: Vendor, session: WriteSession
) -> Response:
    task = tasks.update_status(session, principal, task_id, body.task_status, CLOCK.now())
    if task.task_status == "PENDING":
        wake_exports(request)
    return json_response({"message": f"task {task.id} is {task.task_status}"})


@router.get("/tasks/{task_id}/download", summary="Where to download an export's file")
def download_task_export(
    task_id: str, request: Request, principal: Vendor, session: ReadSession
) -> Response:
    task = tasks.ready_export(session, principal, task_id)
    url = str(request.base_url).rstrip("/") + f"/v1/tasks/{task.id}/file"
    return json_response({"download_url": url, "file_name": tasks.file_name(task)})


@router.get("/tasks/{task_id}/file", summary="An export's file, streamed")
def export_file(
    task_id: str, request: Request, principal: Vendor, session: ReadSession
) -> Response:
    task = tasks.ready_export(session, principal, task_id)
    return StreamingResponse(
        tasks.export_file(database(request), task),
        media_type=formats.media_type(task.file_type),
        headers={"content-disposition": f'attachment; filename="{tasks.file_name(task)}"'},
    )
