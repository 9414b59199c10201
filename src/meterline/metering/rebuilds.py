"""Meter rebuilds: the record of a meter whose aggregates must be recomputed, and its SQL.

Creating a meter, or changing its filters, makes its hourly and daily aggregates wrong
until they are recomputed from the raw events. The request only records that here (one
row per meter, ``state = 'pending'``, its ``generation`` moved on) and answers; the rebuild
job (``metering/rebuild_job.py``) recomputes them later. Until the row is ``done`` the
usage reader answers that meter from raw events (:func:`current`), which give exactly
what the aggregates would (the oracle test in ``tests/metering/test_rollups.py``): reads are
right during a rebuild, only slower.

Exactly once across processes: a runner takes a row with a conditional ``UPDATE``
(:func:`claim`: pending, or running with an expired lease) and marks it done in the
rebuild's own transaction, only if its claim still holds and no newer request came in
(:func:`finish`); otherwise that transaction is rolled back and the newer claim or request
wins. A runner that dies mid-rebuild leaves its transaction rolled back and its lease to
expire, after which another runner takes the row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    case,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from meterline.db.base import Base, UTCDateTime
from meterline.db.dialect import dialect_of

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)
# A rebuild that failed this many times in a row is left ``failed`` (its meter is read from
# raw events, still right); the next request for the meter starts again.
MAX_ATTEMPTS = 5
# Set when a rebuild is requested (after the commit), so the job starts at once.
wakeup = threading.Event()


class MeterRebuild(Base):
    __tablename__ = "meter_rebuilds"
    __table_args__ = (Index("ix_meter_rebuilds_state_requested", "state", "requested_at"),)

    meter_id: Mapped[str] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10))
    # Moves on with every request: a rebuild done for an older one does not count.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Who runs it (a token per claim) and until when the claim holds.
    claimed_by: Mapped[str | None] = mapped_column(String(40), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Not tried again before this instant (after a failure).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


_T: Table = MeterRebuild.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RebuildStatus:
    """What ``GET /v1/meters/{id}`` shows of a meter's rebuild."""

    state: str
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    error: str | None


def request(session: Session, meter_id: str, environment_id: str, now: datetime) -> None:
    """Records that the meter's aggregates must be rebuilt (in the caller's transaction)."""
    moved = session.execute(
        update(_T)
        .where(_T.c.meter_id == meter_id)
        .values(
            state=PENDING,
            generation=_T.c.generation + 1,
            requested_at=now,
            started_at=None,
            finished_at=None,
            claimed_by=None,
            lease_until=None,
            not_before=None,
            attempts=0,
            last_error=None,
        )
    )
    if getattr(moved, "rowcount", 0) == 0:
        session.execute(
            insert(_T).values(
                meter_id=meter_id,
                environment_id=environment_id,
                state=PENDING,
                generation=1,
                requested_at=now,
                attempts=0,
            )
        )
    # Wake the job once this is committed (a wake-up before it would find nothing).
    event.listen(session, "after_commit", _wake, once=True)


def _wake(_session: Any) -> None:
    wakeup.set()


def status(session: Session, meter_id: str) -> RebuildStatus | None:
    """The meter's last rebuild, or None for a meter never rebuilt (older than this table)."""
    row = session.get(MeterRebuild, meter_id)
    if row is None:
        return None
    return RebuildStatus(
        state=row.state,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
        error=row.last_error,
    )


def current(conn: Connection, meter_id: str) -> bool:
    """Whether the meter's aggregates may be read: no rebuild is pending, running or failed.

    On every folded usage read, so one primary-key lookup in driver SQL."""
    mark = dialect_of(conn).mark
    row = conn.exec_driver_sql(
        f"SELECT state FROM meter_rebuilds WHERE meter_id = {mark}", (meter_id,)
    ).first()
    return row is None or row[0] == DONE


def current_of(conn: Connection, meter_ids: Iterable[str]) -> frozenset[str]:
    """Which of ``meter_ids`` have aggregates that may be read (``current`` for many
    meters in one query: the billing clock asks once per batch, not once per line)."""
    ids = sorted(set(meter_ids))
    if not ids:
        return frozenset()
    stale = {
        meter_id
        for meter_id, state in conn.execute(
            select(_T.c.meter_id, _T.c.state).where(_T.c.meter_id.in_(ids))
        )
        if state != DONE
    }
    return frozenset(ids) - stale


def _claimable(now: datetime) -> Any:
    return or_(
        and_(_T.c.state == PENDING, or_(_T.c.not_before.is_(None), _T.c.not_before <= now)),
        and_(_T.c.state == RUNNING, _T.c.lease_until < now),
    )


def due(conn: Connection, now: datetime, limit: int) -> list[tuple[str, int]]:
    """``(meter_id, generation)`` of the rebuilds a runner may claim, oldest request first."""
    rows = conn.execute(
        select(_T.c.meter_id, _T.c.generation)
        .where(_claimable(now))
        .order_by(_T.c.requested_at, _T.c.meter_id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def claim(
    conn: Connection, meter_id: str, generation: int, token: str, now: datetime, lease: timedelta
) -> bool:
    """Takes the rebuild for ``lease``; False when another runner has it, or it moved on."""
    result = conn.execute(
        update(_T)
        .where(_T.c.meter_id == meter_id, _T.c.generation == generation, _claimable(now))
        .values(
            state=RUNNING,
            claimed_by=token,
            lease_until=now + lease,
            started_at=now,
            attempts=_T.c.attempts + 1,
        )
    )
    return getattr(result, "rowcount", 0) == 1


def _held(meter_id: str, generation: int, token: str) -> Any:
    return and_(
        _T.c.meter_id == meter_id,
        _T.c.generation == generation,
        _T.c.claimed_by == token,
        _T.c.state == RUNNING,
    )


def renew(conn: Connection, meter_id: str, generation: int, token: str, until: datetime) -> bool:
    """Extends a held claim's lease to ``until``; False when the claim is no longer held."""
    result = conn.execute(
        update(_T).where(_held(meter_id, generation, token)).values(lease_until=until)
    )
    return getattr(result, "rowcount", 0) == 1


def finish(conn: Connection, meter_id: str, generation: int, token: str, now: datetime) -> bool:
    """Marks the rebuild done, in the rebuild's transaction; False when the claim was lost
    (its lease expired and another runner took it) or a newer request came in: the caller
    then rolls its rebuild back."""
    result = conn.execute(
        update(_T)
        .where(_held(meter_id, generation, token))
        .values(state=DONE, finished_at=now, lease_until=None, last_error=None)
    )
    return getattr(result, "rowcount", 0) == 1


def fail(
    conn: Connection,
    meter_id: str,
    generation: int,
    token: str,
    now: datetime,
    error: str,
    retry_after: timedelta,
) -> None:
    """Records a failed attempt: pending again after ``retry_after``, or failed for good
    after :data:`MAX_ATTEMPTS` attempts."""
    conn.execute(
        update(_T)
        .where(_held(meter_id, generation, token))
        .values(
            state=case((_T.c.attempts >= MAX_ATTEMPTS, FAILED), else_=PENDING),
            lease_until=None,
            not_before=now + retry_after,
            last_error=error[:500],
        )
    )
