"""Scheduled exports through the SDK: each window of a schedule is exported exactly once,
however many export jobs tick at the same instant; run now, enable, disable, delete; bad
schedules refused by name."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import httpx
import pytest
from flexprice.models import errors

from meterline.db.engine import Database
from meterline.exports.schedules import window_floor
from meterline.settings import Settings
from tests.conftest import Tenant, new_tenant
from tests.exports.conftest import run_exports

HOUR = timedelta(hours=1)


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _racing_ticks(database_url: str, now: datetime, runners: int = 3) -> int:
    """``runners`` export jobs, each with its own engine, ticking at ``now`` together."""
    dbs = [Database.connect(Settings(database_url=database_url)) for _ in range(runners)]
    claimed: list[int] = []
    start = threading.Barrier(runners)

    def tick(db: Database) -> None:
        start.wait()
        claimed.append(run_exports(db, now).windows_claimed)

    threads = [threading.Thread(target=tick, args=(db,)) for db in dbs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for db in dbs:
        db.dispose()
    return sum(claimed)


def test_each_window_of_a_schedule_is_exported_exactly_once(
    tenant: Tenant, server_db: Database
) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("events are exported from the SQL event store only (docs/exports.md)")
    with tenant.flexprice() as fp, tenant.client() as http:
        hourly = fp.scheduled_tasks.create_scheduled_task(
            connection_id="meterline", entity_type="events", interval="hourly", job_config={}
        )
        daily = fp.scheduled_tasks.create_scheduled_task(
            connection_id="meterline",
            entity_type="invoice",
            interval="daily",
            job_config={},
            enabled=False,
        )
        assert hourly.enabled and not daily.enabled and hourly.interval == "hourly"
        assert fp.scheduled_tasks.get_scheduled_task(id=hourly.id).entity_type == "events"
        listed = fp.scheduled_tasks.list_scheduled_tasks(enabled=True)
        assert [s.id for s in listed.items] == [hourly.id]
        assert [s.id for s in fp.scheduled_tasks.list_scheduled_tasks(interval="daily").items] == [
            daily.id
        ]
        assert fp.scheduled_tasks.list_scheduled_tasks(entity_type="invoice").items[0].id == (
            daily.id
        )

        def exported() -> int:
            return fp.tasks.list_tasks(scheduled_task_id=hourly.id).pagination.total

        first = window_floor(hourly.created_at, HOUR)
        now = first + 2 * HOUR + timedelta(minutes=1)
        # Two windows have ended: exported once, whatever the number of racing jobs. (The
        # job walks every tenant's schedules, so the count is of this schedule's tasks.)
        assert _racing_ticks(tenant.server.database_url, now) >= 2
        assert exported() == 2
        _racing_ticks(tenant.server.database_url, now)
        assert exported() == 2
        assert run_exports(server_db, now + HOUR).windows_claimed >= 1
        ticks = fp.tasks.list_tasks(scheduled_task_id=hourly.id, order="asc", sort="created_at")
        assert ticks.pagination.total == 3
        windows = sorted((t.metadata["start_time"], t.metadata["end_time"]) for t in ticks.items)
        assert windows == [(_z(first + n * HOUR), _z(first + (n + 1) * HOUR)) for n in range(3)], (
            "each window once, each an hour"
        )
        assert {t.task_status for t in ticks.items} == {"COMPLETED"}
        assert {t.entity_type for t in ticks.items} == {"EVENTS"}
        # The disabled schedule exported nothing.
        assert fp.tasks.list_tasks(scheduled_task_id=daily.id).items == []

        # Run now: the last window that ended, or the range given; a task of its own.
        auto = fp.scheduled_tasks.trigger_scheduled_task_run(id=hourly.id)
        assert auto.mode == "automatic" and auto.end_time - auto.start_time == HOUR
        custom = fp.scheduled_tasks.trigger_scheduled_task_run(
            id=hourly.id, start_time=first - 5 * HOUR, end_time=first
        )
        assert custom.mode == "custom" and custom.start_time == first - 5 * HOUR
        assert fp.tasks.get_task(id=custom.workflow_id).scheduled_task_id == hourly.id

        # Disabled, a schedule's windows wait; deleted, it is gone.
        fp.scheduled_tasks.update_scheduled_task(id=hourly.id, enabled=False)
        run_exports(server_db, now + 5 * HOUR)
        assert exported() == 3 + 2  # the two runs asked for above, no window ticked since
        fp.scheduled_tasks.delete_scheduled_task(id=hourly.id)
        with pytest.raises(errors.ErrorResponse) as gone:
            fp.scheduled_tasks.get_scheduled_task(id=hourly.id)
        assert gone.value.raw_response.status_code == 404

        # A billing run asked now (the billing clock's run, in the background).
        assert fp.scheduled_tasks.schedule_draft_finalization() is not None
        assert fp.scheduled_tasks.schedule_update_billing_period(request={}) is not None

        for body, field in (
            ({"connection_id": "conn_s3"}, "connection_id"),
            ({"interval": "custom"}, "interval"),
            ({"entity_type": "credit_topups"}, "entity_type"),
            ({"job_config": {"bucket": "b"}}, "bucket"),
        ):
            sent = {
                "connection_id": "meterline",
                "entity_type": "events",
                "interval": "hourly",
                "job_config": {},
                **body,
            }
            response = http.post("/v1/tasks/scheduled", json=sent)
            assert response.status_code == 400, response.text
            assert response.json()["details"]["field"] == field

    other = new_tenant(tenant.server)
    with httpx.Client(base_url=other.server.base_url, headers={"x-api-key": other.key}) as http:
        assert http.get(f"/v1/tasks/scheduled/{daily.id}").status_code == 404
        assert (
            http.put(f"/v1/tasks/scheduled/{daily.id}", json={"enabled": True}).status_code == 404
        )
