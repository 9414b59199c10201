"""Group commit for usage reports: one writer thread applies many reports per transaction.

A request validates and authorizes its report, then hands it to the writer with a future
and waits. The writer takes everything queued (up to ``max_batch`` reports) and, in one
transaction:

1. resolves each distinct (instance, entitlement) of the batch fresh, by one query (a grant
   changed through either API, or by another process, counts from the next batch on);
2. locks each counter the batch touches, in key order (``SELECT ... FOR UPDATE`` on
   PostgreSQL, so that several processes sharing a database serialize on the row; SQLite's
   ``BEGIN IMMEDIATE`` already holds the write lock), reading it fresh: nothing about a
   counter is trusted from an earlier batch;
3. applies the reports in arrival order with :func:`reporting.apply_report`, each seeing
   the counter as the reports before it left it (so a limit holds exactly, and a repeated
   transactionId within the batch is a replay of the first);
4. writes the ledger rows (one statement), the counters, and the webhook outbox rows;

commits, and only then resolves each request's future. An acknowledged report is a
committed report. A report whose own work fails answers with that error and changes
nothing; if the batch's writes fail, the generic writer applies the batch again one report
per transaction, so one poisoned report never costs the others their answer (and retries a
deadlocked batch as it is).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from ulid import ULID

from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.kernel.errors import DomainError
from meterline.licensing import audit, reporting, usage_store
from meterline.licensing.reporting import ReportOutcome, UsageReportRequest
from meterline.licensing.usage_store import AcceptedReport, UsageRow
from meterline.runtime.group_commit import GroupCommitWriter
from meterline.webhooks import notify, outbox

log = logging.getLogger("meterline.licensing.reports")

DEFAULT_MAX_BATCH = 500
DEFAULT_QUEUE_LIMIT = 20_000

Result = ReportOutcome | BaseException
# An accepted report's change of its counter's value (before, after), for the webhooks.
_Change = tuple[UsageReportRequest, UsageRow, tuple[Decimal, Decimal]]


@dataclass
class _Batch:
    """The working state of one batch transaction."""

    now: datetime
    rows: dict[tuple[str, str, str], UsageRow] = field(default_factory=dict)
    counters: dict[tuple[str, str], usage_store.CounterState] = field(default_factory=dict)
    # What each locked counter's live reservations hold (licensing/reservations.py).
    held: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    dirty: set[tuple[str, str]] = field(default_factory=set)
    accepted: dict[tuple[str, str, str], AcceptedReport] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    # (instance slug, entitlement slug) of each ledger row, for its audit entry.
    ledger_slugs: list[tuple[str, str]] = field(default_factory=list)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> 2 characters


class _LedgerIds:
    """Ledger ids (``urep_`` + a ULID) that sort in the order the writer applied the
    reports, as the ledger is read back by id, even when many fall in one millisecond: a
    batch takes consecutive values from a fresh ULID (or from the last one, if the clock
    has not moved past it)."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, count: int) -> list[str]:
        start = max(int(ULID()), self._next)
        self._next = start + count
        prefix = ""
        prefix_of = -1
        ids = []
        for value in range(start, start + count):
            # The top 88 bits (18 characters) rarely change within a batch.
            high = value >> 40
            if high != prefix_of:
                prefix, prefix_of = str(ULID.from_int(high << 40))[:18], high
            low = value & 0xFF_FFFF_FFFF
            ids.append(
                f"urep_{prefix}{_PAIRS[low >> 30]}{_PAIRS[(low >> 20) & 1023]}"
                f"{_PAIRS[(low >> 10) & 1023]}{_PAIRS[low & 1023]}"
            )
        return ids


class ReportWriter(GroupCommitWriter[UsageReportRequest, ReportOutcome]):
    """Usage reports through the group-commit writer (``runtime/group_commit.py``)."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ) -> None:
        self.db = db
        self.dialect = usage_store.Dialect(db.dialect)
        self._ids = _LedgerIds()
        # The writer thread keeps one connection from batch to batch (a checkout costs a
        # round trip on PostgreSQL, where the pool pings each connection it hands out).
        self._conn: Connection | None = None
        super().__init__(
            "usage report writer",
            self._apply_kept,
            max_batch=max_batch,
            queue_limit=queue_limit,
            on_stop=self._release,
            full_message="The usage report queue is full; retry shortly",
        )

    def _apply_kept(self, reports: Sequence[UsageReportRequest]) -> list[Result]:
        if self._conn is None:
            self._conn = self.db.write_engine.connect()
        try:
            return self.apply(reports, self._conn)
        except BaseException:
            self._release()  # it may be broken: the next attempt takes a fresh one
            raise

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def apply(
        self, reports: Sequence[UsageReportRequest], conn: Connection | None = None
    ) -> list[Result]:
        """Apply ``reports`` in order in one transaction (on ``conn``, or a connection of
        the write engine's pool); one result per report. Raises if the transaction itself
        fails (nothing of it is then committed)."""
        if conn is None:
            with self.db.write_engine.connect() as own:
                return self.apply(reports, own)
        batch = _Batch(now=utcnow())
        changes: list[_Change] = []
        with conn.begin():
            raw = conn.connection.dbapi_connection  # in the transaction SQLAlchemy began
            targets = self._lock(raw, reports, batch)
            results: list[Result] = []
            for report, target in zip(reports, targets, strict=True):
                if isinstance(target, BaseException):
                    results.append(target)
                    continue
                try:
                    results.append(self._apply_one(report, target, batch, changes))
                except DomainError as exc:
                    results.append(exc)
                except Exception as exc:  # a bug: this report fails, its batch-mates don't
                    log.exception("usage report failed")
                    results.append(exc)
            ids = self._ids.take(len(batch.ledger))
            for row, ledger_id in zip(batch.ledger, ids, strict=True):
                row["id"] = ledger_id
            usage_store.add_reports(raw, self.dialect, batch.ledger)
            entries = [
                audit.usage_entry(*slugs, row)
                for row, slugs in zip(batch.ledger, batch.ledger_slugs, strict=True)
                if row["status"] == "ACCEPTED"
            ]
            if entries:
                audit.add_usage_entries(raw, self.dialect, entries)
            usage_store.save_counters(
                raw, self.dialect, [(*key, batch.counters[key]) for key in sorted(batch.dirty)]
            )
            notified = self._notify(conn, changes)
        if notified:
            outbox.wakeup.set()
        return results

    def _lock(
        self, conn: Any, reports: Sequence[UsageReportRequest], batch: _Batch
    ) -> list[tuple[str, str] | BaseException]:
        """Resolve every report's context and lock the counters they go to."""
        targets: list[tuple[str, str] | BaseException] = []
        for report in reports:
            slugs = (report.environment_id, report.instance_slug, report.entitlement_slug)
            found = batch.rows.get(slugs)
            if found is None:
                found = batch.rows[slugs] = usage_store.usage_row(conn, self.dialect, *slugs)
            try:
                targets.append(
                    reporting.report_target(report, found.context, found.entitlement_type)
                )
            except DomainError as exc:
                targets.append(exc)
        wanted: dict[tuple[str, str], tuple[str, set[str]]] = {}
        for report, target in zip(reports, targets, strict=True):
            if not isinstance(target, BaseException):
                ids = wanted.setdefault(target, (report.environment_id, set()))[1]
                if report.transaction_id is not None:
                    ids.add(report.transaction_id)
        for key in sorted(wanted):
            environment_id, transaction_ids = wanted[key]
            batch.counters[key] = usage_store.lock_counter(conn, self.dialect, environment_id, *key)
            batch.held[key] = usage_store.held_amount(conn, self.dialect, *key, batch.now)
            earlier = usage_store.accepted_reports(conn, self.dialect, *key, transaction_ids)
            for transaction_id, accepted in earlier.items():
                batch.accepted[(*key, transaction_id)] = accepted
        return targets

    def _apply_one(
        self,
        report: UsageReportRequest,
        target: tuple[str, str],
        batch: _Batch,
        changes: list[_Change],
    ) -> ReportOutcome:
        row = batch.rows[(report.environment_id, report.instance_slug, report.entitlement_slug)]
        assert row.entitlement_type is not None
        transaction_key = None
        if report.transaction_id is not None:
            transaction_key = (*target, report.transaction_id)
        earlier = batch.accepted.get(transaction_key) if transaction_key else None
        applied = reporting.apply_report(
            report,
            row.context,
            row.entitlement_type,
            batch.counters[target],
            earlier,
            batch.now,
            batch.held[target],
        )
        # Nothing above changed the batch: only now, with the report fully worked out.
        if applied.counter is not None:
            batch.counters[target] = applied.counter
            batch.dirty.add(target)
        if applied.ledger_row is not None:
            batch.ledger.append(applied.ledger_row)
            batch.ledger_slugs.append((report.instance_slug, report.entitlement_slug))
            if applied.outcome.accepted and transaction_key is not None:
                batch.accepted[transaction_key] = AcceptedReport(
                    report.behavior, report.value, applied.ledger_row["response"]
                )
        if applied.usage_change is not None:
            changes.append((report, row, applied.usage_change))
        return applied.outcome

    @staticmethod
    def _notify(
        conn: Connection,
        changes: list[_Change],
    ) -> bool:
        """Webhook outbox rows for the accepted reports, in the batch's transaction."""
        if not changes:
            return False
        # An ORM session on the batch's connection: it joins the transaction and never
        # commits it. notify decides which changes cross a threshold (rarely any).
        with Session(bind=conn) as session:
            for report, row, (before, after) in changes:
                notify.instance_usage_reported(
                    session,
                    report.environment_id,
                    report.instance_slug,
                    report.entitlement_slug,
                    row.context.usage_limit,
                    before,
                    after,
                )
            recorded = bool(session.new)
            session.flush()
        return recorded
