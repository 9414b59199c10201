"""Reservations on a usage counter (Meterline extension): hold an amount before work whose
cost is known afterwards, then settle it with the actual amount or release it.

* A hold is admitted when the counter, every live hold and the new amount together stay
  within the grant's maximum (``limit·(1 + overage%)``); reports through the writer count
  live holds the same way (``reporting.apply_report``'s ``held``), so reports, holds and
  settlements together never pass a hard limit.
* A hold lives until its TTL; an expired hold holds nothing, whatever happened to the
  client (a crashed worker's hold returns by itself), and cannot be settled.
* A settlement above the hold follows the hold's ``overage``: ``reject`` (409, nothing
  changed), ``cap`` (the held amount is charged) or ``allow`` (the actual amount, if the
  limit still holds with it; else 409). The charge is an ``append`` of the counter with its
  ledger row, whose transaction id is the hold's, so a hold is settled at most once.
* Every step locks the counter row as the report writer does (``usage_store.lock_counter``),
  so holds, settlements and batches of reports serialize on it, in any process.

Holds apply to NUMBER entitlements aggregated by SUM (an amount added later means nothing
to a MAX or a LATEST). A hold counts in whatever window the counter is in when it is
settled; TTLs are short (at most a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id
from meterline.db.dialect import dialect_of
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.licensing import audit, reporting, usage_store
from meterline.licensing.hold_models import UsageHold
from meterline.licensing.reporting import UsageReportRequest, UsageView
from meterline.licensing.usage_store import UsageRow
from meterline.webhooks import notify


@dataclass(frozen=True)
class _Counter:
    raw: Any  # the driver's connection, in the session's transaction
    row: UsageRow
    instance_id: str
    feature_id: str


def _counter(
    session: Session, principal: Principal, instance_slug: str, entitlement_slug: str
) -> _Counter:
    """The counter of (instance, entitlement), resolved; not locked yet."""
    raw = session.connection().connection.dbapi_connection
    dialect = dialect_of(session)
    row = usage_store.usage_row(
        raw, dialect, principal.environment_id, instance_slug, entitlement_slug
    )
    probe = _request(principal, instance_slug, entitlement_slug, Decimal(0), None)
    instance_id, feature_id = reporting.report_target(probe, row.context, row.entitlement_type)
    if (row.context.aggregation or "SUM") != "SUM":
        raise InvalidRequest(
            f"Reservations need a SUM entitlement; {entitlement_slug} aggregates by"
            f" {row.context.aggregation}",
            reason="holds_need_sum",
        )
    return _Counter(raw, row, instance_id, feature_id)


def _request(
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    amount: Decimal,
    transaction_id: str | None,
) -> UsageReportRequest:
    return UsageReportRequest(
        environment_id=principal.environment_id,
        key_id=principal.key_id,
        instance_slug=instance_slug,
        entitlement_slug=entitlement_slug,
        value=amount,
        behavior="append",
        metadata=None,
        transaction_id=transaction_id,
    )


def _locked(session: Session, principal: Principal, counter: _Counter) -> Any:
    return usage_store.lock_counter(
        counter.raw,
        dialect_of(session),
        principal.environment_id,
        counter.instance_id,
        counter.feature_id,
    )


def hold(
    session: Session,
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    *,
    amount: Decimal,
    ttl_seconds: int,
    overage: str,
    now: datetime,
) -> UsageHold:
    """Hold ``amount`` until ``now + ttl``; 409 ``limit_reached`` when the counter and the
    live holds leave less than that."""
    counter = _counter(session, principal, instance_slug, entitlement_slug)
    locked = _locked(session, principal, counter)
    dialect = dialect_of(session)
    held = usage_store.held_amount(
        counter.raw, dialect, counter.instance_id, counter.feature_id, now
    )
    probe = _request(principal, instance_slug, entitlement_slug, amount, None)
    assert counter.row.entitlement_type is not None
    tried = reporting.apply_report(
        probe, counter.row.context, counter.row.entitlement_type, locked, None, now, held
    )
    if not tried.outcome.accepted:
        raise Conflict(
            f"Holding {amount} of {entitlement_slug} would pass its limit", reason="limit_reached"
        )
    created = UsageHold(
        environment_id=principal.environment_id,
        instance_id=counter.instance_id,
        feature_id=counter.feature_id,
        amount=amount,
        overage=overage,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        key_id=principal.key_id,
    )
    session.add(created)
    session.flush()
    return created


def _hold_of(session: Session, counter: _Counter, hold_id: str) -> UsageHold:
    found = session.scalars(
        select(UsageHold)
        .where(
            UsageHold.id == hold_id,
            UsageHold.instance_id == counter.instance_id,
            UsageHold.feature_id == counter.feature_id,
        )
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFound("reservation", hold_id)
    return found


def holds(
    session: Session,
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    now: datetime,
    page: tuple[int, int],
) -> list[UsageHold]:
    """The counter's live holds, oldest first; ``page``: ``(limit, offset)``, one more row
    than ``limit`` telling there is more."""
    counter = _counter(session, principal, instance_slug, entitlement_slug)
    return list(
        session.scalars(
            select(UsageHold)
            .where(
                UsageHold.instance_id == counter.instance_id,
                UsageHold.feature_id == counter.feature_id,
                UsageHold.expires_at > now,
            )
            .order_by(UsageHold.created_at, UsageHold.id)
            .limit(page[0] + 1)
            .offset(page[1])
        )
    )


@dataclass(frozen=True)
class Settlement:
    hold: UsageHold
    charged: Decimal
    usage: UsageView


def settle(
    session: Session,
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    hold_id: str,
    *,
    actual: Decimal,
    now: datetime,
) -> Settlement:
    """Charge the hold's work to the counter and end the hold (see the module's rules)."""
    counter = _counter(session, principal, instance_slug, entitlement_slug)
    locked = _locked(session, principal, counter)
    found = _hold_of(session, counter, hold_id)  # read again under the lock
    if found.expires_at <= now:
        raise Conflict(f"The reservation {hold_id} has expired", reason="hold_expired")
    charged = actual
    if actual > found.amount:
        if found.overage == "reject":
            raise Conflict(
                f"{actual} is more than the {found.amount} held by {hold_id}", reason="over_hold"
            )
        if found.overage == "cap":
            charged = found.amount
    dialect = dialect_of(session)
    others = usage_store.held_amount(
        counter.raw, dialect, counter.instance_id, counter.feature_id, now, but=found.id
    )
    report = _request(principal, instance_slug, entitlement_slug, charged, found.id)
    assert counter.row.entitlement_type is not None
    applied = reporting.apply_report(
        report, counter.row.context, counter.row.entitlement_type, locked, None, now, others
    )
    if not applied.outcome.accepted or applied.counter is None or applied.ledger_row is None:
        raise Conflict(
            f"Settling {charged} of {entitlement_slug} would pass its limit",
            reason="limit_reached",
        )
    ledger_row = {**applied.ledger_row, "id": new_id("urep")}
    try:
        usage_store.add_reports(counter.raw, dialect, [ledger_row])
    except IntegrityError as exc:  # settled meanwhile (the transaction id is the hold's)
        raise NotFound("reservation", hold_id) from exc
    usage_store.save_counters(
        counter.raw, dialect, [(counter.instance_id, counter.feature_id, applied.counter)]
    )
    audit.add_usage_entries(
        counter.raw, dialect, [audit.usage_entry(instance_slug, entitlement_slug, ledger_row)]
    )
    if applied.usage_change is not None:
        before, after = applied.usage_change
        notify.instance_usage_reported(
            session,
            principal.environment_id,
            instance_slug,
            entitlement_slug,
            counter.row.context.usage_limit,
            before,
            after,
        )
    session.delete(found)
    session.flush()
    return Settlement(found, charged, applied.outcome.view)


def release(
    session: Session,
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    hold_id: str,
) -> None:
    """End the hold without charging it (an expired hold too: it held nothing already)."""
    counter = _counter(session, principal, instance_slug, entitlement_slug)
    _locked(session, principal, counter)
    session.delete(_hold_of(session, counter, hold_id))
    session.flush()


def expire(session: Session, now: datetime) -> int:
    """Delete every hold expired at ``now`` (the clean-up job's tick)."""
    result = session.execute(delete(UsageHold).where(UsageHold.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
