"""Group commit: one writer thread turns many requests into one transaction.

A request hands its item (a batch of events, a usage report) to :meth:`GroupCommitWriter.submit`
and waits. The writer thread takes everything queued (up to ``max_batch`` units), passes the
items to the user's ``apply`` function, which applies them in one transaction, and only after
that transaction committed answers each request with its own result. What it promises:

* **Answer after commit.** An acknowledged item is a committed item.
* **Admission.** At most ``queue_limit`` units wait; a request beyond that is refused at once
  with :class:`TooManyRequests` (429), so memory and latency stay bounded under overload.
* **Failure isolation.** ``apply`` returns one result per item, or an exception for an item
  whose own work failed (nothing of it applied). If the batch transaction itself fails, its
  items are applied again one per transaction, so only the guilty request gets an error;
  ``explain`` turns the error of an item that fails on its own into the error its request gets
  (e.g. a 400 naming the field the database refused).
* **Transient failures retry.** A deadlock or a serialization failure (PostgreSQL, several
  processes on one database) is retried transparently, at most ``RETRIES`` times with a short
  randomised backoff, before it counts as a failure.
* **The thread never dies of one job.** Answering a request whose event loop has closed, or an
  unexpected error anywhere in a batch, is logged; the thread goes on with the next batch.
* **A stopped writer says so.** :attr:`alive` is false once the thread has ended (stopped, or
  died of something nobody foresaw); every waiting request and every later submit then answers
  :class:`Unavailable` (503) at once instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from meterline.kernel.errors import TooManyRequests, Unavailable

log = logging.getLogger("meterline.group_commit")

Item = TypeVar("Item")
Result = TypeVar("Result")

# Transient failures worth a retry, by SQLSTATE: deadlock_detected, serialization_failure.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 5  # after the first attempt
BACKOFF_SECONDS = 0.005  # doubled each retry, randomised: at most ~0.3 s in all
JOIN_SECONDS = 30


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or serialization failure worth retrying as it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # SQLAlchemy wraps the driver's error in ``orig``; psycopg names it ``sqlstate``.
        for candidate in (current, getattr(current, "orig", None)):
            if getattr(candidate, "sqlstate", None) in TRANSIENT_SQLSTATES:
                return True
        current = current.__cause__ or current.__context__
    return False


@dataclass(slots=True)
class _Job(Generic[Item, Result]):
    item: Item
    size: int
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Result] | None = None
    done: threading.Event | None = None
    outcome: Result | BaseException | None = None
    answered: bool = False


class GroupCommitWriter(Generic[Item, Result]):
    """One writer thread batching ``apply`` calls (see the module docstring).

    ``apply(items)`` applies ``items`` in order in one transaction and returns one result per
    item (an exception instance for an item refused on its own); it raises if the
    transaction failed, with nothing of it committed. It is only ever called on the writer
    thread (or by :meth:`commit` on the caller's).
    """

    def __init__(
        self,
        name: str,
        apply: Callable[[Sequence[Item]], Sequence[Result | BaseException]],
        *,
        max_batch: int,
        queue_limit: int,
        size: Callable[[Item], int] | None = None,
        explain: Callable[[Item, Exception], BaseException] | None = None,
        on_stop: Callable[[], None] | None = None,
        full_message: str = "The write queue is full; retry shortly",
    ) -> None:
        self.name = name
        self._apply = apply
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self._size = size
        self._explain = explain
        self._on_stop = on_stop
        self._full_message = full_message
        self._queue: queue.SimpleQueue[_Job[Item, Result] | None] = queue.SimpleQueue()
        self._admission = threading.Lock()
        self._queued = 0
        self._accepting = True
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.retries = 0

    # --- state ----------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs and takes submissions."""
        thread = self._thread
        return self._accepting and thread is not None and thread.is_alive()

    @property
    def state(self) -> str:
        """``running``, or ``stopped`` (never started, stopped, or ended unexpectedly)."""
        return "running" if self.alive else "stopped"

    @property
    def queued(self) -> int:
        """Units (events, reports) admitted and not answered yet."""
        return self._queued

    def start(self) -> None:
        with self._admission:
            self._accepting = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Apply what is queued, then end the thread; later submits answer 503."""
        thread = self._thread
        if thread is None:
            return
        with self._admission:
            if self._accepting:
                self._accepting = False
                self._queue.put(None)
        thread.join(timeout=JOIN_SECONDS)

    # --- submitting -----------------------------------------------------------------------

    def _enqueue(self, job: _Job[Item, Result]) -> None:
        # Under the lock that stop() and the thread's end take: a job is either queued
        # ahead of the end (and answered) or refused here, never left waiting.
        with self._admission:
            if not self._accepting:
                raise Unavailable(f"The {self.name} has stopped; retry shortly", retry_after=1)
            if self._queued + job.size > self.queue_limit:
                raise TooManyRequests(self._full_message, retry_after=1)
            self._queued += job.size
            self._queue.put(job)

    def _job(self, item: Item) -> _Job[Item, Result]:
        return _Job(item=item, size=self._size(item) if self._size is not None else 1)

    async def submit(self, item: Item) -> Result:
        """Apply ``item``; returns its result once committed, or raises its error."""
        job = self._job(item)
        job.loop = asyncio.get_running_loop()
        job.future = job.loop.create_future()
        self._enqueue(job)
        return await job.future

    def submit_sync(self, item: Item) -> Result:
        """The same, for callers outside an event loop (CLI, tests)."""
        job = self._job(item)
        job.done = threading.Event()
        self._enqueue(job)
        job.done.wait()
        if isinstance(job.outcome, BaseException):
            raise job.outcome
        return job.outcome  # type: ignore[return-value]

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    break
                jobs = [first]
                size = first.size
                stopping = False
                while size < self.max_batch:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stopping = True
                        break
                    jobs.append(job)
                    size += job.size
                self._process(jobs)
                if stopping:
                    break
        finally:
            self._close()

    def _process(self, jobs: list[_Job[Item, Result]]) -> None:
        """Commit and answer one batch; nothing that goes wrong here ends the thread."""
        try:
            outcomes = self.commit([job.item for job in jobs])
        except BaseException as exc:  # a bug in the isolation itself: fail this batch only
            log.exception("%s: a batch of %d failed", self.name, len(jobs))
            outcomes = [exc] * len(jobs)
        self.batches += 1
        for job, outcome in zip(jobs, outcomes, strict=False):
            self._answer(job, outcome)
        for job in jobs:  # apply answered too few items: a bug, but nobody may hang
            if not job.answered:
                self._answer(job, RuntimeError(f"{self.name}: no result for this request"))

    def commit(self, items: Sequence[Item]) -> list[Result | BaseException]:
        """Apply ``items`` as one batch with the writer's isolation and retries; one
        outcome per item. Runs on the calling thread."""
        try:
            outcomes = list(self._attempt(items))
        except Exception as exc:
            if len(items) == 1:
                return [self._explained(items[0], exc)]
            log.warning(
                "%s: a batch of %d failed (%s); applying its requests one by one",
                self.name,
                len(items),
                exc,
            )
            outcomes = []
            for item in items:
                try:
                    outcomes.extend(self._attempt([item]))
                except Exception as solo:  # this request's own transaction failed
                    outcomes.append(self._explained(item, solo))
        if len(outcomes) != len(items):
            raise RuntimeError(f"{self.name}: apply gave {len(outcomes)} results for {len(items)}")
        return outcomes

    def _attempt(self, items: Sequence[Item]) -> Sequence[Result | BaseException]:
        """``apply``, retried on deadlocks and serialization failures."""
        for attempt in range(RETRIES + 1):
            try:
                return self._apply(items)
            except Exception as exc:
                if attempt == RETRIES or not is_transient(exc):
                    raise
                self.retries += 1
                delay = BACKOFF_SECONDS * (2**attempt)
                time.sleep(delay + random.uniform(0, delay))
        raise AssertionError("unreachable")

    def _explained(self, item: Item, exc: Exception) -> BaseException:
        if self._explain is not None:
            try:
                return self._explain(item, exc)
            except Exception:
                log.exception("%s: explaining a failure failed", self.name)
        log.error("%s: a request failed on its own", self.name, exc_info=exc)
        return exc

    def _answer(self, job: _Job[Item, Result], outcome: Result | BaseException) -> None:
        if job.answered:
            return
        job.answered = True
        with self._admission:
            self._queued -= job.size
        if job.done is not None:
            job.outcome = outcome
            job.done.set()
            return
        future = job.future
        assert job.loop is not None and future is not None

        def resolve() -> None:
            if future.done():  # the request went away
                return
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        try:
            job.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            log.warning("%s: a request was answered after its event loop closed", self.name)

    def _close(self) -> None:
        """The thread's end: refuse new work and answer everything still queued."""
        with self._admission:
            self._accepting = False
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._answer(job, Unavailable(f"The {self.name} has stopped", retry_after=1))
        if self._on_stop is not None:
            try:
                self._on_stop()
            except Exception:
                log.exception("%s: cleaning up failed", self.name)
