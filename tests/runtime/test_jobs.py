"""runtime/jobs.py: start, tick, wake, survive a bad tick, stop within a bound."""

from __future__ import annotations

import threading
from datetime import datetime

from meterline.runtime.jobs import OK, STOPPED, Jobs


class Probe:
    """A job that counts its ticks and can be told to fail or to block."""

    def __init__(
        self,
        name: str = "probe",
        interval: float = 3600.0,
        *,
        run_at_start: bool = True,
        wakeup: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.run_at_start = run_at_start
        self.wakeup = wakeup
        self.stopping = threading.Event()
        self.ticks: list[datetime | None] = []
        self.ticked = threading.Semaphore(0)
        self.fail = False
        self.block: threading.Event | None = None
        self.closed = False

    def run_once(self, now: datetime | None = None) -> int:
        self.ticks.append(now)
        try:
            if self.block is not None:
                self.block.wait(30)
            if self.fail:
                raise RuntimeError("bad tick")
            return len(self.ticks)
        finally:
            self.ticked.release()

    def close(self) -> None:
        self.closed = True


def test_a_job_ticks_at_start_is_woken_early_and_stops() -> None:
    wakeup = threading.Event()
    job = Probe(wakeup=wakeup)
    jobs = Jobs()
    state = jobs.add(job)
    jobs.start()
    assert job.ticked.acquire(timeout=10)  # the first tick at once
    assert state.status == OK
    wakeup.set()  # an hour early
    assert job.ticked.acquire(timeout=10)
    assert jobs.stop(timeout=10) == []
    assert state.status == STOPPED and job.closed
    assert state.ticks == 2 and state.failures == 0


def test_a_job_that_waits_for_its_interval_does_not_tick_at_start() -> None:
    job = Probe(run_at_start=False)
    jobs = Jobs()
    jobs.add(job)
    jobs.start()
    assert not job.ticked.acquire(timeout=0.2)
    assert jobs.stop(timeout=10) == []
    assert job.ticks == []


def test_a_failing_tick_is_counted_and_the_job_goes_on() -> None:
    wakeup = threading.Event()
    job = Probe(wakeup=wakeup)
    job.fail = True
    jobs = Jobs()
    state = jobs.add(job)
    jobs.start()
    assert job.ticked.acquire(timeout=10)
    job.fail = False
    wakeup.set()
    assert job.ticked.acquire(timeout=10)
    jobs.stop(timeout=10)
    assert state.failures == 1 and state.ticks == 2
    assert state.last_error == "RuntimeError: bad tick"


def test_a_job_that_is_off_is_neither_started_nor_checked() -> None:
    off = Probe("off", interval=0)
    on = Probe("on")
    jobs = Jobs()
    jobs.add(off)
    jobs.add(on)
    assert [s.job.name for s in jobs.enabled()] == ["on"]
    jobs.start()
    assert on.ticked.acquire(timeout=10)
    jobs.stop(timeout=10)
    assert off.ticks == [] and jobs["off"].thread is None


def test_stop_waits_a_bounded_time_for_a_stuck_tick() -> None:
    job = Probe()
    job.block = threading.Event()
    jobs = Jobs()
    jobs.add(job)
    jobs.start()
    assert jobs.stop(timeout=0.2) == ["probe"]  # did not wait for the stuck tick
    assert not job.closed  # not closed under a tick that still runs
    job.block.set()


def test_two_jobs_may_not_share_a_name() -> None:
    jobs = Jobs()
    jobs.add(Probe())
    try:
        jobs.add(Probe())
    except ValueError:
        return
    raise AssertionError("a second job named probe was accepted")


def test_run_once_takes_the_instant() -> None:
    job = Probe()
    moment = datetime(2026, 1, 1)
    job.run_once(now=moment)
    assert job.ticks == [moment]
