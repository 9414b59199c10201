"""Background jobs: one start/stop protocol for the work a server does besides requests.

A job (the billing clock, the webhook worker, the meter rebuild runner, ...) is an object
with a ``name``, an ``interval`` and a ``run_once(now=None)`` that does one tick of work and
returns; tests call ``run_once(now=...)`` directly, with time injected, and never sleep.
:class:`Jobs` runs each job in its own daemon thread, one tick after the other:

* ``interval`` seconds between the end of one tick and the start of the next; a job whose
  ``interval`` is 0 or less is off (not started, not in the health checks);
* ``run_at_start``: the first tick runs at once, else after one interval;
* ``wakeup``: an event that, when set, starts the next tick early (new work was committed);
* ``stopping``: set by :meth:`Jobs.stop`; a long tick checks it and returns early;
* ``close()``: runs after the thread has ended (a pool to shut down, ...).

A tick that raises is logged and counted; the next tick retries (the thread survives). The
state of each job (``ok``, or ``stopped`` once its thread has ended) is what
``api/http/health.job_probe`` reports.

Exactly once per tick, across processes: each job's tick is idempotent and takes what it
works on with a constraint or a claim (the billing clock's unique ``billing_key``, the
webhook deliveries' ``claimed_until``, the meter rebuilds' leases), so several processes
may run the same job against one database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

log = logging.getLogger("meterline.jobs")

# How long stop() waits for one job's tick to end, unless told otherwise.
STOP_TIMEOUT_SECONDS = 30.0
OK = "ok"
STOPPED = "stopped"


class Job(Protocol):
    """What :class:`Jobs` needs of a job."""

    name: str
    interval: float  # seconds between ticks; <= 0 turns the job off
    run_at_start: bool
    wakeup: threading.Event | None
    stopping: threading.Event

    def run_once(self, now: datetime | None = None) -> object:
        """One tick; idempotent, safe to run in several processes at once."""
        ...

    def close(self) -> None:
        """Release what the job holds, after its last tick."""
        ...


@dataclass
class JobState:
    """One running job: its thread and what its ticks did."""

    job: Job
    thread: threading.Thread | None = None
    ticks: int = 0
    failures: int = 0
    last_error: str | None = None
    started: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def status(self) -> str:
        """``ok`` while the job's thread runs, ``stopped`` once it has ended."""
        if self.thread is not None and self.thread.is_alive():
            return OK
        return STOPPED

    def tick(self) -> None:
        try:
            self.job.run_once()
        except Exception as error:  # the job survives a bad tick; the next one retries
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(error).__name__}: {error}"[:500]
            log.exception("job %s: tick failed", self.job.name)
        finally:
            with self._lock:
                self.ticks += 1

    def loop(self) -> None:
        job = self.job
        wakeup = job.wakeup
        if not job.run_at_start and self._wait():
            return
        while not job.stopping.is_set():
            if wakeup is not None:
                wakeup.clear()
            self.tick()
            if self._wait():
                return

    def _wait(self) -> bool:
        """Waits one interval (or until woken); True when the job is stopping."""
        job = self.job
        if job.wakeup is None:
            return job.stopping.wait(job.interval)
        job.wakeup.wait(job.interval)
        return job.stopping.is_set()


class Jobs:
    """The background jobs of one process (``app.state.jobs``)."""

    def __init__(self) -> None:
        self._states: dict[str, JobState] = {}

    def add(self, job: Job) -> JobState:
        if job.name in self._states:
            raise ValueError(f"a job named {job.name!r} is already registered")
        state = JobState(job)
        self._states[job.name] = state
        return state

    def __iter__(self) -> Iterator[JobState]:
        return iter(self._states.values())

    def __getitem__(self, name: str) -> JobState:
        return self._states[name]

    def enabled(self) -> list[JobState]:
        """The jobs that run (``interval > 0``)."""
        return [s for s in self._states.values() if s.job.interval > 0]

    def start(self) -> None:
        """Starts every enabled job that is not running yet, each in its own thread."""
        for state in self.enabled():
            if state.started:
                continue
            state.started = True
            state.thread = threading.Thread(
                target=state.loop, name=f"job-{state.job.name}", daemon=True
            )
            state.thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> list[str]:
        """Asks every job to stop, then waits at most ``timeout`` seconds in all for their
        ticks to end and closes them. Returns the names of the jobs still running then
        (left to end with the process: their threads are daemons)."""
        states = list(self._states.values())
        for state in states:
            state.job.stopping.set()
            if state.job.wakeup is not None:
                state.job.wakeup.set()
        deadline = time.monotonic() + max(0.0, timeout)
        late: list[str] = []
        for state in states:
            if state.thread is not None:
                state.thread.join(max(0.0, deadline - time.monotonic()))
                if state.thread.is_alive():
                    late.append(state.job.name)
                    log.warning("job %s did not stop within %s s", state.job.name, timeout)
                    continue
            try:
                state.job.close()
            except Exception:
                log.exception("job %s: close failed", state.job.name)
        return late
