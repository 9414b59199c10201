"""The meter rebuild job: recomputes the aggregates of meters whose rebuild is pending.

A job of ``runtime/jobs.py``: each tick claims the pending rebuilds (``metering/rebuilds.py``)
one at a time and runs each in one transaction: the store's ``rebuild_hourly`` (on
PostgreSQL under the environment's exclusive meter lock, ordered against ingest batches)
and the row marked done, committed together. A rebuild whose claim was lost or whose meter
changed again meanwhile is rolled back (the newer claim or request wins); one that fails
is retried after a back-off, at most ``rebuilds.MAX_ATTEMPTS`` times. Safe to run in
several processes at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from meterline.catalog.models import Meter
from meterline.db.base import new_id, utcnow
from meterline.db.engine import Database
from meterline.metering import rebuilds
from meterline.metering.backend import event_store
from meterline.metering.service import meter_spec
from meterline.settings import EventStoreSettings

log = logging.getLogger("meterline.rebuilds")
# Rebuilds claimed per tick, at most (the rest wait for the next tick).
BATCH = 100
# A claim outlives any rebuild it is meant for; a runner that died holding one delays the
# meter's rebuild by this much (its reads stay right meanwhile: raw events).
LEASE = timedelta(minutes=10)
# The wait before a failed rebuild is tried again.
RETRY_AFTER = timedelta(seconds=30)
# Seconds between polls for rebuilds requested in other processes (this process's own
# requests wake the job at once).
POLL_SECONDS = 1.0


class LostClaim(Exception):
    """The rebuild's claim no longer holds, or its meter changed again meanwhile."""


@dataclass
class RebuildReport:
    done: int = 0
    lost: int = 0
    failed: int = 0


class MeterRebuildJob:
    name = "meter_rebuilds"
    run_at_start = True

    def __init__(
        self,
        db: Database,
        events: EventStoreSettings,
        *,
        interval: float = POLL_SECONDS,
        lease: timedelta = LEASE,
        retry_after: timedelta = RETRY_AFTER,
    ) -> None:
        self.db = db
        self.store = event_store(db.dialect, events)
        self.interval = interval
        self.lease = lease
        self.retry_after = retry_after
        self.wakeup: threading.Event | None = rebuilds.wakeup
        self.stopping = threading.Event()

    def run_once(self, now: datetime | None = None) -> RebuildReport:
        """Runs every rebuild that is due at ``now``; each meter's at most once."""
        now = now or utcnow()
        report = RebuildReport()
        with self.db.session(write=False) as session:
            due = rebuilds.due(session.connection(), now, BATCH)
        for meter_id, generation in due:
            if self.stopping.is_set():
                break
            token = new_id("rbld")
            if not self._claim(meter_id, generation, token, now):
                continue
            try:
                self._rebuild(meter_id, generation, token, now)
                report.done += 1
            except LostClaim:
                report.lost += 1
                log.info("rebuild of meter %s superseded; rolled back", meter_id)
            except Exception as error:
                report.failed += 1
                log.exception("rebuild of meter %s failed; retried later", meter_id)
                self._fail(meter_id, generation, token, now, error)
        return report

    def _claim(self, meter_id: str, generation: int, token: str, now: datetime) -> bool:
        try:
            with self.db.session() as session:
                return rebuilds.claim(
                    session.connection(), meter_id, generation, token, now, self.lease
                )
        except OperationalError:  # a lock conflict: the next tick (or the other runner)
            return False

    def _rebuild(self, meter_id: str, generation: int, token: str, now: datetime) -> None:
        # A rebuild longer than its lease keeps it: renewed from another connection while
        # the rebuild's transaction runs. SQLite has one writer at a time: no other runner
        # can claim while that transaction is open, and a renewal would only wait for it.
        keeper = None
        if self.db.dialect != "sqlite":
            keeper = _LeaseKeeper(self, meter_id, generation, token, now)
            keeper.start()
        try:
            self._rebuild_in_one_transaction(meter_id, generation, token, now)
        finally:
            if keeper is not None:
                keeper.stop()

    def _rebuild_in_one_transaction(
        self, meter_id: str, generation: int, token: str, now: datetime
    ) -> None:
        with self.db.session() as session:
            meter = session.get(Meter, meter_id)
            conn = session.connection()
            if meter is not None:
                self.store.rebuild_hourly(conn, meter_spec(meter))
            if not rebuilds.finish(conn, meter_id, generation, token, now):
                raise LostClaim(meter_id)  # rolls the rebuild back

    def _fail(
        self, meter_id: str, generation: int, token: str, now: datetime, error: Exception
    ) -> None:
        try:
            with self.db.session() as session:
                rebuilds.fail(
                    session.connection(),
                    meter_id,
                    generation,
                    token,
                    now,
                    f"{type(error).__name__}: {error}",
                    self.retry_after,
                )
        except Exception:  # the lease expires and the rebuild is tried again anyway
            log.exception("recording the failed rebuild of meter %s failed", meter_id)

    def close(self) -> None:
        pass


class _LeaseKeeper(threading.Thread):
    """Renews one rebuild's claim every third of its lease until stopped. The lease runs on
    the claim's clock (``now`` as the job was given it) advanced by the time that passed."""

    def __init__(
        self, job: MeterRebuildJob, meter_id: str, generation: int, token: str, now: datetime
    ) -> None:
        super().__init__(name=f"rebuild-lease-{meter_id}", daemon=True)
        self.job = job
        self.claim = (meter_id, generation, token)
        self.claimed_at = now
        self.began = time.monotonic()
        self.stopping = threading.Event()

    def run(self) -> None:
        every = self.job.lease.total_seconds() / 3
        while not self.stopping.wait(every):
            until = self.claimed_at + timedelta(seconds=time.monotonic() - self.began)
            try:
                with self.job.db.session() as session:
                    if not rebuilds.renew(
                        session.connection(), *self.claim, until + self.job.lease
                    ):
                        return  # lost or superseded: the rebuild's own finish says so
            except Exception:  # the next renewal (or the lease's own length) covers it
                log.exception("renewing the rebuild lease of meter %s failed", self.claim[0])

    def stop(self) -> None:
        self.stopping.set()
        self.join()
