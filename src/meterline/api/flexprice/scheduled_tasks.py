"""/v1/tasks/scheduled: recurring exports run by the export job (docs/exports.md).

``connection_id`` must be ``meterline`` (this server keeps the files; each tick's export
is a task downloaded like any other). The S3 settings of ``job_config`` are refused by
name. ``schedule_draft_finalization`` and ``schedule_update_billing_period`` start a run of
the billing clock now (in the background; one at a time per process).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import AppSettings, ReadSession, Vendor, WriteSession, database
from meterline.api.flexprice.common import MAX_OFFSET, WireModel, list_response
from meterline.api.flexprice.tasks import CLOCK, wake_exports
from meterline.api.json import iso, json_response
from meterline.exports import schedules
from meterline.exports.models import ScheduledTask
from meterline.invoicing import clock as billing_clock
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant

router = APIRouter(tags=["scheduled tasks"])
log = logging.getLogger("meterline.exports")


class JobConfigIn(WireModel):
    unsupported = frozenset(
        {
            "bucket",
            "compression",
            "encryption",
            "endpoint_url",
            "export_metadata_fields",
            "key_prefix",
            "provider",
            "region",
            "use_path_style",
        }
    )


class ScheduledTaskIn(WireModel):
    connection_id: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    interval: str = Field(max_length=16)
    job_config: JobConfigIn
    enabled: bool | None = None


class ScheduledTaskUpdate(WireModel):
    enabled: bool


class ForceRunIn(WireModel):
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None


def schedule_out(schedule: ScheduledTask) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "connection_id": schedule.connection_id,
        "entity_type": schedule.entity_type,
        "interval": schedule.interval,
        "enabled": schedule.enabled,
        "job_config": schedule.job_config or {},
        "status": schedule.status,
        "environment_id": schedule.environment_id,
        "tenant_id": None,
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
    }


@router.post("/tasks/scheduled", status_code=201, summary="Create a scheduled export")
def create_scheduled_task(
    body: ScheduledTaskIn, principal: Vendor, session: WriteSession
) -> Response:
    command = schedules.CreateSchedule(
        connection_id=body.connection_id,
        entity_type=body.entity_type,
        interval=body.interval,
        enabled=True if body.enabled is None else body.enabled,
    )
    schedule = schedules.create_schedule(session, principal, command, CLOCK.now())
    return json_response(schedule_out(schedule), 201)


@router.get("/tasks/scheduled", summary="List scheduled exports")
def list_scheduled_tasks(
    principal: Vendor,
    session: ReadSession,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    connection_id: str | None = Query(default=None, max_length=64),
    entity_type: str | None = Query(default=None, max_length=32),
    interval: str | None = Query(default=None, max_length=16),
    enabled: bool | None = None,
) -> Response:
    found, total = schedules.list_schedules(
        session,
        principal,
        limit=limit,
        offset=offset,
        connection_id=connection_id,
        entity_type=entity_type,
        interval=interval,
        enabled=enabled,
    )
    return list_response([schedule_out(s) for s in found], total, schedules.PageOf(limit, offset))


_billing_run = threading.Lock()


def _start_billing_run(request: Request, settings: AppSettings) -> bool:
    """A billing clock run in the background; False when one is already running here."""
    if not _billing_run.acquire(blocking=False):
        return False
    db = database(request)

    def run() -> None:
        try:
            billing_clock.run_once(
                db, grace=settings.billing.grace, renewal_lead=settings.billing.renewal_lead
            )
        except Exception:
            log.exception("a billing run asked through the API failed")
        finally:
            _billing_run.release()

    threading.Thread(target=run, name="billing-run-now", daemon=True).start()
    return True


@router.post(
    "/tasks/scheduled/schedule-draft-finalization",
    summary="Finalize the drafts that are due, now",
)
def schedule_draft_finalization(
    request: Request, principal: Vendor, settings: AppSettings
) -> Response:
    started = _start_billing_run(request, settings)
    return json_response(
        {"message": "billing run started" if started else "a billing run is already running"}
    )


@router.post(
    "/tasks/scheduled/schedule-update-billing-period",
    summary="Close the billing periods that have ended, now",
)
def schedule_update_billing_period(
    request: Request, principal: Vendor, settings: AppSettings
) -> Response:
    started = _start_billing_run(request, settings)
    return json_response(
        {"message": "billing run started" if started else "a billing run is already running"}
    )


@router.get("/tasks/scheduled/{scheduled_task_id}", summary="Get a scheduled export")
def get_scheduled_task(scheduled_task_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(
        schedule_out(schedules.get_schedule(session, principal, scheduled_task_id))
    )


@router.put("/tasks/scheduled/{scheduled_task_id}", summary="Enable or disable a scheduled export")
def update_scheduled_task(
    scheduled_task_id: str, body: ScheduledTaskUpdate, principal: Vendor, session: WriteSession
) -> Response:
    schedule = schedules.set_enabled(session, principal, scheduled_task_id, body.enabled)
    return json_response(schedule_out(schedule))


@router.delete(
    "/tasks/scheduled/{scheduled_task_id}", status_code=204, summary="Delete a scheduled export"
)
def delete_scheduled_task(
    scheduled_task_id: str, principal: Vendor, session: WriteSession
) -> Response:
    schedules.delete_schedule(session, principal, scheduled_task_id)
    return Response(status_code=204)


@router.post("/tasks/scheduled/{scheduled_task_id}/run", summary="Run a scheduled export now")
def trigger_scheduled_task_run(
    scheduled_task_id: str,
    request: Request,
    principal: Vendor,
    session: WriteSession,
    body: ForceRunIn | None = None,
) -> Response:
    start = body.start_time if body is not None else None
    end = body.end_time if body is not None else None
    if (start is None) != (end is None):
        raise InvalidRequest("start_time and end_time go together", field="start_time")
    run = schedules.trigger_run(session, principal, scheduled_task_id, start, end, CLOCK.now())
    wake_exports(request)
    return json_response(
        {
            "workflow_id": run.task.id,
            "mode": run.mode,
            "start_time": iso(run.task.range_start),
            "end_time": iso(run.task.range_end),
            "message": "export started",
        }
    )
