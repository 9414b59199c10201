"""Billing failures: recording, retrying and resolving what the clock could not bill.

The billing clock isolates each subscription: when closing one period (or finalizing one
draft) raises, that unit's transaction rolls back, the failure is recorded here in a
transaction of its own and the run goes on with the others. The failure is

* visible: ``billing_error`` on the subscription (``GET /v1/subscriptions/{id}``), and a
  ``subscription.billing_failed`` webhook when it is first recorded (not on every retry);
* retried: every later run tries it once more (``attempts``, ``last_attempt_at``); a run
  never tries it twice (``last_run_id``), so a bad subscription cannot starve the others;
* resolved by the run that bills it (``resolved_at``), in that run's transaction, so the
  period is billed exactly once — the unique ``billing_key`` still guards it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from meterline.invoicing.failure_models import MAX_REASON, BillingFailure
from meterline.kernel.errors import DomainError
from meterline.webhooks import notify

Column = ColumnElement[str] | InstrumentedAttribute[str]


def describe(error: BaseException) -> str:
    """A reason a vendor can act on, bounded to the column's length."""
    if isinstance(error, DomainError):
        text = error.message
    elif isinstance(error, ArithmeticError):
        text = f"an amount is out of the range money arithmetic holds ({type(error).__name__})"
    elif isinstance(error, DBAPIError):  # the driver's first line, not the SQL and its values
        first = str(error.orig).splitlines()[0] if str(error.orig) else ""
        text = f"the database refused the invoice ({type(error.orig).__name__}): {first}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_REASON]


def period_key(subscription_id: str, period_start: datetime) -> str:
    """The failure key of a period close: the ``billing_key`` its invoice would carry."""
    return f"{subscription_id}:period:{period_start.isoformat()}"


def finalize_key(invoice_id: str) -> str:
    return f"{invoice_id}:finalize"


def record(
    session: Session,
    *,
    environment_id: str,
    key: str,
    stage: str,
    run_id: str,
    reason: str,
    now: datetime,
    subscription_id: str | None = None,
    invoice_id: str | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> BillingFailure:
    """Records one more failed attempt of ``key`` in the caller's transaction; the first
    attempt (or the first after a resolution) also emits the webhook."""
    failure = session.scalars(
        select(BillingFailure)
        .where(BillingFailure.environment_id == environment_id, BillingFailure.failure_key == key)
        .with_for_update()
    ).first()
    if failure is not None and failure.resolved_at is None:
        failure.attempts += 1
        failure.reason = reason
        failure.last_attempt_at = now
        failure.last_run_id = run_id
        session.flush()
        return failure
    if failure is None:
        failure = BillingFailure(environment_id=environment_id, failure_key=key, stage=stage)
        session.add(failure)
    failure.subscription_id = subscription_id
    failure.invoice_id = invoice_id
    failure.period_start, failure.period_end = period_start, period_end
    failure.reason = reason
    failure.attempts = 1
    failure.first_failed_at = failure.last_attempt_at = now
    failure.last_run_id = run_id
    failure.resolved_at = None
    session.flush()
    notify.billing_failed(session, failure)
    return failure


def resolve_periods(session: Session, subscription_ids: Sequence[str], now: datetime) -> None:
    """Closes the open period failures of these subscriptions (they were just billed)."""
    if subscription_ids:
        _resolve(
            session,
            BillingFailure.subscription_id.in_(list(subscription_ids))
            & (BillingFailure.stage == "close_period"),
            now,
        )


def resolve_invoice(session: Session, invoice_id: str, now: datetime) -> None:
    _resolve(session, BillingFailure.invoice_id == invoice_id, now)


def _resolve(session: Session, which: ColumnElement[bool], now: datetime) -> None:
    session.execute(
        update(BillingFailure)
        .where(which, BillingFailure.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def open_for_subscriptions(
    session: Session, subscription_ids: Sequence[str]
) -> dict[str, BillingFailure]:
    """The open failure of each subscription that has one (the latest attempted)."""
    if not subscription_ids:
        return {}
    rows = session.scalars(
        select(BillingFailure)
        .where(
            BillingFailure.subscription_id.in_(list(subscription_ids)),
            BillingFailure.resolved_at.is_(None),
        )
        .order_by(BillingFailure.last_attempt_at)
    ).all()
    return {row.subscription_id: row for row in rows if row.subscription_id}


def failed_in_run(run_id: str, subscription_id: Column) -> ColumnElement[bool]:
    """SQL: this run already failed to close a period of that subscription."""
    return exists().where(
        BillingFailure.subscription_id == subscription_id,
        BillingFailure.stage == "close_period",
        BillingFailure.resolved_at.is_(None),
        BillingFailure.last_run_id == run_id,
    )


def invoice_failed_in_run(run_id: str, invoice_id: Column) -> ColumnElement[bool]:
    return exists().where(
        BillingFailure.invoice_id == invoice_id,
        BillingFailure.resolved_at.is_(None),
        BillingFailure.last_run_id == run_id,
    )
