"""The export job: run by the same job runner as the billing clock (runtime/jobs.py).

Each tick (1) creates the export of every due window of every enabled schedule
(exports/schedules.py: a window is claimed by a unique insert), then (2) prepares the
pending exports: each is claimed by a conditional update (PENDING → PROCESSING: only one
process wins it), counted and marked COMPLETED, in a transaction of its own, so a failing
export is marked FAILED and never stops the others. Safe in several processes at once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from meterline.db.engine import Database
from meterline.exports import repository, schedules, service
from meterline.kernel.instants import SystemClock

log = logging.getLogger("meterline.exports")
SCHEDULE_PAGE = 200
CLAIM_BATCH = 20


@dataclass
class ExportReport:
    windows_claimed: int = 0
    exports_completed: int = 0
    exports_failed: int = 0


class ExportJob:
    name = "exports"
    run_at_start = True

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self.wakeup: threading.Event | None = threading.Event()  # set when an export is asked
        self.stopping = threading.Event()
        self.clock = SystemClock()

    def run_once(self, now: datetime | None = None) -> ExportReport:
        now = now or self.clock.now()
        report = ExportReport()
        after: str | None = None
        while not self.stopping.is_set():
            with self.db.session() as session:
                page = repository.enabled_schedules(session, after_id=after, limit=SCHEDULE_PAGE)
                for schedule in page:
                    report.windows_claimed += schedules.tick(session, schedule, now)
            if len(page) < SCHEDULE_PAGE:
                break
            after = page[-1].id
        while not self.stopping.is_set():
            with self.db.session() as session:
                claimed = [
                    t.id for t in repository.claim_pending_exports(session, now, CLAIM_BATCH)
                ]
            for task_id in claimed:
                self._prepare(task_id, now, report)
            if len(claimed) < CLAIM_BATCH:
                break
        return report

    def _prepare(self, task_id: str, now: datetime, report: ExportReport) -> None:
        try:
            with self.db.session() as session:
                task = session.get(repository.Task, task_id)
                if task is not None and task.task_status == "PROCESSING":
                    service.process_export(session, task, now)
                    report.exports_completed += 1
        except Exception as error:  # one export's failure is its own
            log.exception("export %s failed", task_id)
            with self.db.session() as session:
                task = session.get(repository.Task, task_id)
                if task is not None:
                    task.task_status = "FAILED"
                    task.failed_at = now
                    task.error_summary = f"{type(error).__name__}"[:2000]
            report.exports_failed += 1

    def close(self) -> None:
        pass
