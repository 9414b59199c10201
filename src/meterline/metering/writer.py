"""The ingest writer: events through the group-commit writer (``runtime/group_commit.py``).

A request's validated rows are one item. The writer stores everything queued (up to
``ingest_max_batch`` events) in one transaction and answers each request with its own
counts once committed. A batch the database refuses is stored again one request per
transaction, so a request whose own events cannot be stored is the only one refused: with a
400 naming its first event that cannot be stored (found by bisecting its events in
transactions that are rolled back), not a 500 for everyone in its batch.
"""

from __future__ import annotations

import decimal
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DataError, IntegrityError

from meterline import observability
from meterline.db.engine import Database
from meterline.kernel.errors import InvalidRequest
from meterline.metering.backend import event_store
from meterline.metering.ingest import EventRow
from meterline.metering.stores.sql import SqlEventStore
from meterline.runtime.group_commit import GroupCommitWriter
from meterline.settings import Settings

log = logging.getLogger("meterline.ingest")

# Failures of a request's own rows: the database refused a value, or its arithmetic failed.
_REFUSED = (DataError, IntegrityError, decimal.DecimalException)


class EventsRefused(InvalidRequest):
    """The database refused a request's events: the one at ``index`` (None: all together)."""

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message, field="events" if index is None else f"events[{index}]")
        self.index = index


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    new: int
    duplicates: int


class IngestWriter(GroupCommitWriter[Sequence[EventRow], IngestResult]):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.store = event_store(db.dialect, settings.events)
        # Called with a batch's rows once they have committed (the alerts job's hook); it
        # must be cheap and must not raise into the writer.
        self.after_commit: Callable[[Sequence[EventRow]], None] | None = None
        super().__init__(
            "ingest writer",
            self._store_batch,
            max_batch=settings.ingest.writer_max_batch,
            queue_limit=settings.ingest.queue_limit,
            size=len,
            explain=self._explain_refusal,
            full_message="The ingest queue is full; retry shortly",
        )

    @property
    def queued_events(self) -> int:
        return self.queued

    def _store_batch(self, requests: Sequence[Sequence[EventRow]]) -> list[IngestResult]:
        rows = [row for request in requests for row in request]
        with self.db.session(write=True) as session:
            flags = self.store.insert(session.connection(), rows)
        if self.after_commit is not None:
            try:
                self.after_commit(rows)
            except Exception:  # an alert missed here is caught by the alerts job's scan
                log.exception("ingest writer: the after-commit hook failed")
        new_total = sum(flags)
        observability.record_ingest(new_total, len(rows) - new_total)
        results = []
        offset = 0
        for request in requests:
            new = sum(flags[offset : offset + len(request)])
            offset += len(request)
            results.append(IngestResult(len(request), new, len(request) - new))
        return results

    def _fails(self, rows: Sequence[EventRow]) -> bool:
        """Whether storing ``rows`` fails, in a transaction that is rolled back either way."""
        with self.db.write_engine.connect() as conn, conn.begin() as transaction:
            try:
                self.store.insert(conn, rows)
            except _REFUSED:
                return True
            finally:
                transaction.rollback()
        return False

    def _explain_refusal(self, rows: Sequence[EventRow], exc: Exception) -> BaseException:
        """The error a request gets whose events fail in a transaction of their own."""
        if not isinstance(exc, _REFUSED):
            return exc  # not about its data (a lost connection, a bug): answered as a 500
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        message = "The database cannot store this event" + (f": {reason[0]}" if reason else "")
        if len(rows) == 1:
            return EventsRefused(message, 0)
        # Only the SQL store rolls back; the shortest failing prefix names the event, in
        # O(log n) attempts. A request that fails only in full is named as a whole.
        if not isinstance(self.store, SqlEventStore) or not self._fails(rows):
            return EventsRefused(message.replace("this event", "these events"), None)
        low, high = 1, len(rows)
        while low < high:
            middle = (low + high) // 2
            if self._fails(rows[:middle]):
                high = middle
            else:
                low = middle + 1
        return EventsRefused(message, low - 1)
