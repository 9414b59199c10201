"""The billing clock: closes ended periods and finalizes drafts whose grace has passed.

Each subscription is closed in its own transaction: the period-end invoice and the move to
the next period commit together or not at all, and the invoice's ``billing_key`` is unique,
so a clock killed at any point, or two clocks at once, leave exactly one invoice per
(subscription, period). ``meterline bill`` runs it once; ``meterline serve`` runs it every
``METERLINE_BILLING_INTERVAL_SECONDS`` (0 turns it off).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import DBAPIError

from meterline import observability
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.invoices import billing, repository

log = logging.getLogger("meterline.billing")
BATCH = 500
# Subscriptions closed per transaction: large enough to amortize the reads and the commit,
# small enough that a conflict redoes little and a transaction holds its locks briefly.
CHUNK = 100


class BillingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_BILLING_", extra="ignore")

    # Seconds between runs of the clock inside ``meterline serve``; 0 = off.
    interval_seconds: float = 60
    # Drafts stay open for late events this long after their period ends.
    grace_seconds: float = 3600


@dataclass
class RunReport:
    periods_closed: int = 0
    invoices_finalized: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "periods_closed": self.periods_closed,
            "invoices_finalized": self.invoices_finalized,
            "skipped": self.skipped,
        }


def _close_one(db: Database, subscription_id: str, now: datetime, grace: timedelta) -> bool:
    with db.session() as session:
        sub = repository.lock_subscription(session, subscription_id)
        if sub is None or sub.current_period_end > now:
            return False  # another clock closed it, or holds it right now
        if sub.subscription_status not in ("active", "trialing"):
            return False
        billing.close_period(session, sub, now=now, grace=grace)
        return True


def _close_many(
    db: Database, subscription_ids: list[str], now: datetime, grace: timedelta
) -> tuple[int, int]:
    """Closes a chunk in one transaction: ``(periods closed, invoices finalized)``."""
    with db.session() as session:
        subs = repository.lock_due_subscriptions(session, subscription_ids, now)
        closed = billing.close_periods(session, subs, now=now, grace=grace)
        finalized = sum(
            1 for c in closed if c.invoice is not None and c.invoice.invoice_status == "FINALIZED"
        )
        return len(closed), finalized


def _finalize_one(db: Database, invoice_id: str, now: datetime) -> bool:
    with db.session() as session:
        invoice = repository.lock_invoice(session, invoice_id)
        if invoice is None or invoice.invoice_status != "DRAFT":
            return False
        billing.finalize_due(session, invoice, now=now)
        return True


def run_once(
    db: Database,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Closes every period that ended by ``now`` (each period once, catching up several
    periods of one subscription if needed) and finalizes due drafts."""
    now = now or utcnow()
    grace = grace if grace is not None else timedelta(seconds=BillingSettings().grace_seconds)
    report = RunReport()
    seen_empty = False
    while not seen_empty and not (stop and stop.is_set()):
        with db.session(write=False) as session:
            due = repository.due_subscription_ids(session, now, BATCH)
        seen_empty = not due
        progressed = False
        for first in range(0, len(due), CHUNK):
            if stop and stop.is_set():
                break
            chunk = due[first : first + CHUNK]
            try:
                closed, finalized = _close_many(db, chunk, now, grace)
                report.periods_closed += closed
                report.invoices_finalized += finalized
                report.skipped += len(chunk) - closed
                progressed = progressed or closed > 0
                continue
            except DBAPIError:
                # Another clock billed one of them first (unique billing_key) or a lock
                # conflict: nothing of the chunk was written; close them one by one.
                pass
            for subscription_id in chunk:
                try:
                    if _close_one(db, subscription_id, now, grace):
                        report.periods_closed += 1
                        progressed = True
                    else:
                        report.skipped += 1
                except DBAPIError:
                    # The same, for one subscription: this run leaves it; the next run (or
                    # the other clock) bills it.
                    report.skipped += 1
        if not progressed:
            break
    while not (stop and stop.is_set()):
        with db.session(write=False) as session:
            drafts = [i.id for i in repository.due_for_finalization(session, now, BATCH)]
        done = 0
        for invoice_id in drafts:
            try:
                if _finalize_one(db, invoice_id, now):
                    report.invoices_finalized += 1
                    done += 1
            except DBAPIError:
                report.skipped += 1
        if done == 0:
            break
    return report


class BillingClock:
    """Runs :func:`run_once` every ``interval`` seconds in a daemon thread."""

    def __init__(self, db: Database, interval: float, grace: timedelta) -> None:
        self.db = db
        self.interval = interval
        self.grace = grace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="billing-clock", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = run_once(self.db, grace=self.grace, stop=self._stop)
                observability.record_billing_run(
                    report.periods_closed, report.invoices_finalized, failed=False
                )
                if report.periods_closed or report.invoices_finalized:
                    log.info("billing run: %s", report.as_dict())
            except Exception:  # the clock must survive a bad run; the next one retries
                observability.record_billing_run(0, 0, failed=True)
                log.exception("billing run failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def start_clock(db: Database) -> BillingClock:
    settings = BillingSettings()
    clock = BillingClock(db, settings.interval_seconds, timedelta(seconds=settings.grace_seconds))
    clock.start()
    return clock
