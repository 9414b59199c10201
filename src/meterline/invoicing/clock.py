"""The billing clock: closes ended periods, finalizes drafts whose grace has passed, and
sends the notices of invoices overdue and of renewals due (``invoicing/notices.py``).

Each subscription is closed in its own transaction: the period-end invoice and the move to
the next period commit together or not at all, and the invoice's ``billing_key`` is unique,
so a clock killed at any point, or two clocks at once, leave exactly one invoice per
(subscription, period). ``meterline bill`` runs it once; ``meterline serve`` runs it every
``METERLINE_BILLING_INTERVAL_SECONDS`` (0 turns it off).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from meterline import observability
from meterline.db.base import new_id, utcnow
from meterline.db.engine import Database
from meterline.invoicing import cycle as billing
from meterline.invoicing import failures, notices, repository
from meterline.kernel.instants import SYSTEM_CLOCK, Clock
from meterline.settings import BillingSettings

log = logging.getLogger("meterline.billing")
BATCH = 500
# Subscriptions closed per transaction: large enough to amortize the reads and the commit,
# small enough that a conflict redoes little and a transaction holds its locks briefly.
CHUNK = 100
# Notices (overdue invoices, renewals due) each run sends at most, of each kind: a backlog
# (an upgrade, a clock that was off) goes out over several runs.
NOTICES_PER_RUN = 1000


@dataclass
class RunReport:
    periods_closed: int = 0
    invoices_finalized: int = 0
    skipped: int = 0
    # Subscriptions (or drafts) this run could not bill: recorded as billing failures.
    failed: int = 0
    # Invoices reported overdue (invoice.payment.overdue), and renewals reported due
    # (subscription.renewal.due), whether or not an endpoint wanted them.
    invoices_overdue: int = 0
    renewals_due: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "periods_closed": self.periods_closed,
            "invoices_finalized": self.invoices_finalized,
            "skipped": self.skipped,
            "failed": self.failed,
            "invoices_overdue": self.invoices_overdue,
            "renewals_due": self.renewals_due,
        }


def _close_one(db: Database, subscription_id: str, now: datetime, grace: timedelta) -> bool:
    with db.session() as session:
        sub = repository.lock_subscription(session, subscription_id)
        if not _due(sub, now):
            return False  # another clock closed it, or holds it right now
        billing.close_period(session, sub, now=now, grace=grace)
        return True


def _due(sub: Any, now: datetime) -> bool:
    return (
        sub is not None
        and sub.current_period_end <= now
        and sub.subscription_status in ("active", "trialing")
    )


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


def _record_close_failure(
    db: Database, subscription_id: str, now: datetime, run_id: str, error: Exception
) -> bool:
    """Records that closing the subscription's current period failed; False when it is no
    longer due (another clock billed it meanwhile): nothing to record then."""
    with db.session() as session:
        sub = repository.lock_subscription(session, subscription_id)
        if not _due(sub, now):
            return False
        failures.record(
            session,
            environment_id=sub.environment_id,
            key=failures.period_key(sub.id, sub.current_period_start),
            stage="close_period",
            run_id=run_id,
            reason=failures.describe(error),
            now=utcnow(),
            subscription_id=sub.id,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
        )
        return True


def _record_finalize_failure(db: Database, invoice_id: str, run_id: str, error: Exception) -> bool:
    with db.session() as session:
        invoice = repository.lock_invoice(session, invoice_id)
        if invoice is None or invoice.invoice_status != "DRAFT":
            return False
        failures.record(
            session,
            environment_id=invoice.environment_id,
            key=failures.finalize_key(invoice.id),
            stage="finalize",
            run_id=run_id,
            reason=failures.describe(error),
            now=utcnow(),
            subscription_id=invoice.subscription_id,
            invoice_id=invoice.id,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
        )
        return True


def _isolated(
    report: RunReport, attempt: Callable[[], bool], record: Callable[[Exception], bool], what: str
) -> bool:
    """Runs one unit of billing; a failure of it is recorded instead of ending the run.

    A lock conflict (OperationalError) leaves the unit to the next run or the other clock.
    Anything else is a failure of this unit alone: logged, recorded durably (its own
    transaction) and retried by the next run. Returns whether the unit progressed."""
    try:
        if attempt():
            return True
        report.skipped += 1
        return False
    except OperationalError:
        report.skipped += 1
        return False
    except Exception as error:
        log.exception("billing %s failed; recorded, the next run retries it", what)
        try:
            if record(error):
                report.failed += 1
            else:
                report.skipped += 1
        except Exception:  # recording must not end the run either
            log.exception("recording the billing failure of %s failed", what)
            report.failed += 1
        return False


def _send_notices(
    db: Database,
    scan: Callable[[Session, list[str]], list[str]],
    send: Callable[[Session, list[str]], notices.Noticed],
    stop: threading.Event | None,
    what: str,
) -> int:
    """Sends notices chunk by chunk, over at most :data:`NOTICES_PER_RUN` rows: ``scan``
    lists a chunk of the rows due a notice (but the failed ones it is given), ``send``
    notices those still due in one transaction. A chunk that fails is redone row by row; a
    row that fails is logged and left to the next run (it keeps no marker). Returns the
    number of notices."""
    sent = 0
    failed: list[str] = []
    for _ in range(0, NOTICES_PER_RUN, CHUNK):
        if stop and stop.is_set():
            break
        with db.session(write=False) as session:
            due = scan(session, failed)
        if not due:
            break
        failed_before = len(failed)
        marked = 0
        try:
            with db.session() as session:
                noticed = send(session, due)
            marked, sent = marked + noticed.marked, sent + noticed.sent
        except OperationalError:
            break  # a lock conflict: the other clock has them; the next run looks again
        except Exception:
            log.debug("%s notices redone one by one", what, exc_info=True)
            for one in due:
                try:
                    with db.session() as session:
                        noticed = send(session, [one])
                    marked, sent = marked + noticed.marked, sent + noticed.sent
                except OperationalError:
                    continue
                except Exception:
                    log.exception("%s notice of %s failed; the next run retries it", what, one)
                    failed.append(one)
        if marked == 0 and len(failed) == failed_before:
            break  # only rows another clock holds are left: it sends them
    return sent


def run_once(
    db: Database,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    stop: threading.Event | None = None,
    clock: Clock = SYSTEM_CLOCK,
    renewal_lead: timedelta | None = None,
) -> RunReport:
    """Closes every period that ended by ``now`` (each period once, catching up several
    periods of one subscription if needed) and finalizes due drafts; then sends the
    notices due at ``now`` (``invoicing/notices.py``): invoices overdue, and renewals due
    within ``renewal_lead`` (0 = none).

    One subscription that cannot be billed never stops the others: its chunk is redone one
    subscription per transaction, and its failure is recorded (see ``invoicing/failures.py``);
    this run does not try it again, the next run does. ``grace`` defaults to the documented
    default (the clock and ``meterline bill`` pass the configured one), as does
    ``renewal_lead``."""
    now = now or clock.now()
    grace = grace if grace is not None else BillingSettings().grace
    renewal_lead = renewal_lead if renewal_lead is not None else BillingSettings().renewal_lead
    run_id = new_id("brun")
    report = RunReport()
    # What failed in this run, also when recording the failure failed too.
    failed: set[str] = set()
    seen_empty = False
    while not seen_empty and not (stop and stop.is_set()):
        with db.session(write=False) as session:
            due = repository.due_subscription_ids(session, now, BATCH, run_id=run_id)
        due = [s for s in due if s not in failed]
        seen_empty = not due
        progressed = False
        failed_before = report.failed
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
            except Exception:
                # Another clock billed one of them first (unique billing_key), a lock
                # conflict, or one of them cannot be billed: nothing of the chunk was
                # written; close them one by one.
                log.debug("billing chunk redone one by one", exc_info=True)
            for subscription_id in chunk:
                failures_before = report.failed
                if _isolated(
                    report,
                    partial(_close_one, db, subscription_id, now, grace),
                    partial(_record_close_failure, db, subscription_id, now, run_id),
                    f"subscription {subscription_id}",
                ):
                    report.periods_closed += 1
                    progressed = True
                elif report.failed > failures_before:
                    failed.add(subscription_id)
        if not progressed and report.failed == failed_before:
            break  # only rows another clock holds are left: it bills them
    while not (stop and stop.is_set()):
        with db.session(write=False) as session:
            drafts = [
                i.id for i in repository.due_for_finalization(session, now, BATCH, run_id=run_id)
            ]
        done = 0
        failed_before = report.failed
        for invoice_id in drafts:
            if invoice_id in failed:
                continue
            failures_before = report.failed
            if _isolated(
                report,
                partial(_finalize_one, db, invoice_id, now),
                partial(_record_finalize_failure, db, invoice_id, run_id),
                f"invoice {invoice_id}",
            ):
                report.invoices_finalized += 1
                done += 1
            elif report.failed > failures_before:
                failed.add(invoice_id)
        if done == 0 and report.failed == failed_before:
            break
    # After billing: an invoice finalized above may already be overdue, and a period
    # closed above is followed by one that may end within the lead time.
    report.invoices_overdue = _send_notices(
        db,
        lambda session, failed: repository.overdue_invoice_ids(
            session, now, CHUNK, excluding=failed
        ),
        lambda session, due: notices.notify_overdue(session, due, now),
        stop,
        "overdue invoice",
    )
    if renewal_lead > timedelta(0):
        report.renewals_due = _send_notices(
            db,
            lambda session, failed: repository.renewal_due_ids(
                session, now, renewal_lead, CHUNK, excluding=failed
            ),
            lambda session, due: notices.notify_renewals(session, due, now, renewal_lead),
            stop,
            "renewal",
        )
    return report


def close_subscriptions(
    db: Database,
    subscription_ids: list[str],
    *,
    now: datetime,
    grace: timedelta | None = None,
) -> int:
    """What :func:`run_once` does, for these subscriptions alone: each of their periods that
    ended by ``now`` closed (with the schedules due then), one transaction per period as
    the clock's own fallback does. Returns the number of periods closed."""
    grace = grace if grace is not None else BillingSettings().grace
    closed = 0
    for subscription_id in subscription_ids:
        while _close_one(db, subscription_id, now, grace):
            closed += 1
    return closed


class BillingClock:
    """The billing clock as a job (``runtime/jobs.py``): one :func:`run_once` per tick,
    every ``interval`` seconds, the first one interval after the start."""

    name = "billing_clock"
    run_at_start = False
    wakeup: threading.Event | None = None

    def __init__(
        self,
        db: Database,
        interval: float,
        grace: timedelta,
        clock: Clock = SYSTEM_CLOCK,
        renewal_lead: timedelta | None = None,
    ) -> None:
        self.db = db
        self.interval = interval
        self.grace = grace
        self.clock = clock
        self.renewal_lead = renewal_lead
        self.stopping = threading.Event()

    def run_once(self, now: datetime | None = None) -> RunReport:
        try:
            report = run_once(
                self.db,
                now=now,
                grace=self.grace,
                stop=self.stopping,
                clock=self.clock,
                renewal_lead=self.renewal_lead,
            )
        except Exception:
            observability.record_billing_run(0, 0, failed=True)
            raise
        observability.record_billing_run(
            report.periods_closed, report.invoices_finalized, failed=False
        )
        if report.failed:
            log.warning("billing run with failures: %s", report.as_dict())
        elif report.periods_closed or report.invoices_finalized:
            log.info("billing run: %s", report.as_dict())
        return report

    def close(self) -> None:
        pass


def billing_clock(db: Database, settings: BillingSettings) -> BillingClock:
    """The clock as configured (``METERLINE_BILLING_INTERVAL_SECONDS``; 0 = off)."""
    return BillingClock(
        db, settings.interval_seconds, settings.grace, renewal_lead=settings.renewal_lead
    )
