"""Group commit: one writer thread turns many requests into one transaction.

Requests put their validated rows on a queue with a future and wait. The writer takes
everything queued (up to ``ingest_max_batch`` events), stores it in one transaction, commits,
and only then resolves each request's future with its own counts. An acknowledged event is
a committed event; a failed commit fails every request in it, and none is half-applied.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from meterline import observability
from meterline.config import Settings
from meterline.db.engine import Database
from meterline.errors import TooManyRequests
from meterline.events.backend import event_store
from meterline.events.ingest import EventRow

log = logging.getLogger("meterline.ingest")


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    new: int
    duplicates: int


@dataclass
class _Job:
    rows: Sequence[EventRow]
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[IngestResult] | None
    done: threading.Event | None = None
    result: IngestResult | None = None
    error: BaseException | None = None


class IngestWriter:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.store = event_store(db.dialect, settings)
        self.max_batch = settings.ingest_max_batch
        self.queue_limit = settings.ingest_queue_limit
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._queued_events = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0

    @property
    def queued_events(self) -> int:
        return self._queued_events

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="meterline-ingest-writer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _admit(self, count: int) -> None:
        with self._lock:
            if self._queued_events + count > self.queue_limit:
                raise TooManyRequests("The ingest queue is full; retry shortly", retry_after=1)
            self._queued_events += count

    async def submit(self, rows: Sequence[EventRow]) -> IngestResult:
        """Store ``rows``; returns after they are committed."""
        self._admit(len(rows))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._queue.put(_Job(rows=rows, loop=loop, future=future))
        return await future

    def submit_sync(self, rows: Sequence[EventRow]) -> IngestResult:
        """The same, for callers outside the event loop (CLI, tests)."""
        self._admit(len(rows))
        job = _Job(rows=rows, loop=None, future=None, done=threading.Event())
        self._queue.put(job)
        assert job.done is not None
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs = [first]
            size = len(first.rows)
            while size < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                size += len(job.rows)
            self._write(jobs, size)

    def _write(self, jobs: list[_Job], size: int) -> None:
        rows = [row for job in jobs for row in job.rows]
        try:
            with self.db.session(write=True) as session:
                flags = self.store.insert(session.connection(), rows)
        except BaseException as exc:  # a failed commit fails every request in it
            log.exception("ingest batch of %d events failed", size)
            for job in jobs:
                self._finish(job, None, exc)
        else:
            self.batches += 1
            observability.record_ingest(sum(flags), len(rows) - sum(flags))
            offset = 0
            for job in jobs:
                new = sum(flags[offset : offset + len(job.rows)])
                offset += len(job.rows)
                self._finish(job, IngestResult(len(job.rows), new, len(job.rows) - new), None)
        finally:
            with self._lock:
                self._queued_events -= size

    @staticmethod
    def _finish(job: _Job, result: IngestResult | None, error: BaseException | None) -> None:
        if job.loop is not None and job.future is not None:
            future = job.future

            def resolve() -> None:
                if future.done():
                    return
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)  # type: ignore[arg-type]

            job.loop.call_soon_threadsafe(resolve)
        else:
            job.result = result
            job.error = error
            if job.done is not None:
                job.done.set()
