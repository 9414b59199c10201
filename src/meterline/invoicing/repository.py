"""Every query of the invoices domain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, cast, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.catalog.models import Feature, Meter
from meterline.customers.models import Customer
from meterline.db.dialect import dialect_of
from meterline.db.search import apply_filters, apply_sort, created_between, page
from meterline.invoicing import failures
from meterline.invoicing.models import (
    OVERDUE_SCAN,
    UNPAID_STATUSES,
    Invoice,
    InvoiceLineItem,
    InvoiceSequence,
)
from meterline.subscriptions.models import Subscription


def get(
    session: Session, environment_id: str, invoice_id: str, *, lock: bool = False
) -> Invoice | None:
    query = select(Invoice).where(
        Invoice.id == invoice_id, Invoice.environment_id == environment_id
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def by_idempotency_key(session: Session, environment_id: str, key: str) -> Invoice | None:
    return session.scalars(
        select(Invoice).where(
            Invoice.environment_id == environment_id, Invoice.idempotency_key == key
        )
    ).first()


def by_billing_key(session: Session, environment_id: str, key: str) -> Invoice | None:
    return session.scalars(
        select(Invoice).where(Invoice.environment_id == environment_id, Invoice.billing_key == key)
    ).first()


def drafts_of_subscription(
    session: Session, environment_id: str, subscription_id: str
) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.environment_id == environment_id,
                Invoice.subscription_id == subscription_id,
                Invoice.invoice_status == "DRAFT",
            )
            .order_by(Invoice.created_at, Invoice.id)
        )
    )


def lines_of(session: Session, invoice_ids: Sequence[str]) -> dict[str, list[InvoiceLineItem]]:
    out: dict[str, list[InvoiceLineItem]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    rows = session.scalars(
        select(InvoiceLineItem)
        .where(InvoiceLineItem.invoice_id.in_(list(invoice_ids)))
        .order_by(InvoiceLineItem.invoice_id, InvoiceLineItem.position)
    ).all()
    for row in rows:
        out[row.invoice_id].append(row)
    return out


def delete_lines(session: Session, invoice_id: str) -> None:
    for row in session.scalars(
        select(InvoiceLineItem).where(InvoiceLineItem.invoice_id == invoice_id)
    ).all():
        session.delete(row)
    session.flush()


def next_number(session: Session, environment_id: str, period: str) -> int:
    """Atomically takes the next number of ``period`` (``YYYYMM``) in the environment."""
    stmt = (
        dialect_of(session)
        .insert(InvoiceSequence)
        .values(environment_id=environment_id, period=period, last_value=1)
        .on_conflict_do_update(
            index_elements=["environment_id", "period"],
            set_={"last_value": InvoiceSequence.last_value + 1},
        )
        .returning(InvoiceSequence.last_value)
    )
    return int(session.execute(stmt).scalar_one())


def take_numbers(session: Session, environment_id: str, period: str, count: int) -> int:
    """Atomically takes ``count`` consecutive numbers of ``period``; returns the first."""
    stmt = (
        dialect_of(session)
        .insert(InvoiceSequence)
        .values(environment_id=environment_id, period=period, last_value=count)
        .on_conflict_do_update(
            index_elements=["environment_id", "period"],
            set_={"last_value": InvoiceSequence.last_value + count},
        )
        .returning(InvoiceSequence.last_value)
    )
    return int(session.execute(stmt).scalar_one()) - count + 1


SEARCHABLE: dict[str, InstrumentedAttribute[Any]] = {
    "id": Invoice.id,
    "customer_id": Invoice.customer_id,
    "subscription_id": Invoice.subscription_id,
    "invoice_type": Invoice.invoice_type,
    "invoice_status": Invoice.invoice_status,
    "payment_status": Invoice.payment_status,
    "currency": Invoice.currency,
    "invoice_number": Invoice.invoice_number,
    "billing_reason": Invoice.billing_reason,
    "billing_period": Invoice.billing_period,
    "period_start": Invoice.period_start,
    "period_end": Invoice.period_end,
    "due_date": Invoice.due_date,
    "finalized_at": Invoice.finalized_at,
    "voided_at": Invoice.voided_at,
    "status": Invoice.status,
    "created_at": Invoice.created_at,
    "updated_at": Invoice.updated_at,
}


@dataclass(frozen=True)
class InvoiceQuery:
    """What an invoice search selects; every field set narrows the result."""

    invoice_ids: Sequence[str] | None = None
    customer_id: str | None = None
    external_customer_id: str | None = None
    subscription_customer_ids: Sequence[str] | None = None
    subscription_id: str | None = None
    invoice_status: Sequence[str] | None = None
    payment_status: Sequence[str] | None = None
    invoice_type: str | None = None
    billing_reason: str | None = None
    currency: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    amount_due_gt: Decimal | None = None
    amount_remaining_gt: Decimal | None = None
    period_start_gte: datetime | None = None
    period_start_lte: datetime | None = None
    period_end_gte: datetime | None = None
    period_end_lte: datetime | None = None
    finalized_at_gte: datetime | None = None
    voided_at_gte: datetime | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | str | None = None
    order: str | None = None


def _amount(session: Session, column: InstrumentedAttribute[Any]) -> Any:
    # SQLite keeps amounts as canonical text (db/base.py Money), which compares as text:
    # compare its numeric value instead.
    if session.get_bind().dialect.name == "sqlite":
        return cast(column, Numeric)
    return column


def _where(session: Session, environment_id: str, q: InvoiceQuery) -> list[Any]:
    where: list[Any] = [
        Invoice.environment_id == environment_id,
        Invoice.status == (q.status or "published"),
    ]
    if q.invoice_ids:
        where.append(Invoice.id.in_(list(q.invoice_ids)))
    if q.customer_id:
        where.append(Invoice.customer_id == q.customer_id)
    if q.external_customer_id:
        where.append(
            Invoice.customer_id.in_(
                select(Customer.id).where(
                    Customer.environment_id == environment_id,
                    Customer.external_id == q.external_customer_id,
                )
            )
        )
    if q.subscription_customer_ids:
        where.append(
            Invoice.subscription_id.in_(
                select(Subscription.id).where(
                    Subscription.environment_id == environment_id,
                    Subscription.customer_id.in_(list(q.subscription_customer_ids)),
                )
            )
        )
    if q.subscription_id:
        where.append(Invoice.subscription_id == q.subscription_id)
    if q.invoice_status:
        where.append(Invoice.invoice_status.in_(list(q.invoice_status)))
    if q.payment_status:
        where.append(Invoice.payment_status.in_(list(q.payment_status)))
    if q.invoice_type:
        where.append(Invoice.invoice_type == q.invoice_type)
    if q.billing_reason:
        where.append(Invoice.billing_reason == q.billing_reason)
    if q.currency:
        where.append(Invoice.currency == q.currency)
    where.extend(created_between(Invoice.created_at, q.start_time, q.end_time))
    if q.amount_due_gt is not None:
        where.append(_amount(session, Invoice.amount_due) > q.amount_due_gt)
    if q.amount_remaining_gt is not None:
        where.append(_amount(session, Invoice.amount_remaining) > q.amount_remaining_gt)
    if q.period_start_gte is not None:
        where.append(Invoice.period_start >= q.period_start_gte)
    if q.period_start_lte is not None:
        where.append(Invoice.period_start <= q.period_start_lte)
    if q.period_end_gte is not None:
        where.append(Invoice.period_end >= q.period_end_gte)
    if q.period_end_lte is not None:
        where.append(Invoice.period_end <= q.period_end_lte)
    if q.finalized_at_gte is not None:
        where.append(Invoice.finalized_at >= q.finalized_at_gte)
    if q.voided_at_gte is not None:
        where.append(Invoice.voided_at >= q.voided_at_gte)
    return where


def search(
    session: Session, environment_id: str, q: InvoiceQuery, *, limit: int, offset: int
) -> tuple[list[Invoice], int]:
    stmt = select(Invoice).where(*_where(session, environment_id, q))
    stmt = apply_filters(stmt, q.filters, SEARCHABLE)
    ascending = (q.order or "desc").lower() == "asc"
    stmt = apply_sort(stmt, q.sort, q.order, SEARCHABLE)
    stmt = stmt.order_by(Invoice.id.asc() if ascending else Invoice.id.desc())
    return page(session, stmt, limit, offset)


def unpaid_total(
    session: Session, environment_id: str, customer_id: str, currency: str
) -> list[Invoice]:
    """Finalized invoices of the customer in ``currency`` with money still owed."""
    return list(
        session.scalars(
            select(Invoice).where(
                Invoice.environment_id == environment_id,
                Invoice.customer_id == customer_id,
                Invoice.currency == currency,
                Invoice.invoice_status == "FINALIZED",
                Invoice.payment_status.in_(UNPAID_STATUSES),
            )
        ).all()
    )


def due_for_finalization(
    session: Session, now: datetime, limit: int, *, run_id: str | None = None
) -> list[Invoice]:
    """Drafts whose grace has passed; with ``run_id``, not those that run failed on."""
    stmt = select(Invoice).where(
        Invoice.invoice_status == "DRAFT",
        Invoice.finalize_after.is_not(None),
        Invoice.finalize_after <= now,
    )
    if run_id is not None:
        stmt = stmt.where(~failures.invoice_failed_in_run(run_id, Invoice.id))
    return list(
        session.scalars(stmt.order_by(Invoice.finalize_after, Invoice.id).limit(limit)).all()
    )


def metered_features(
    session: Session, environment_id: str, meter_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Feature ids per meter id, for the published metered features of those meters."""
    out: dict[str, list[str]] = {}
    if not meter_ids:
        return out
    rows = session.execute(
        select(Feature.meter_id, Feature.id).where(
            Feature.environment_id == environment_id,
            Feature.meter_id.in_(list(meter_ids)),
            Feature.status == "published",
        )
    ).all()
    for meter_id, feature_id in rows:
        if meter_id is not None:
            out.setdefault(meter_id, []).append(feature_id)
    return out


def meters_by_id(session: Session, meter_ids: Sequence[str]) -> dict[str, Meter]:
    if not meter_ids:
        return {}
    rows = session.scalars(select(Meter).where(Meter.id.in_(list(meter_ids)))).all()
    return {m.id: m for m in rows}


def due_subscription_ids(
    session: Session, now: datetime, limit: int, *, run_id: str | None = None
) -> list[str]:
    """Subscriptions whose current period has ended and that are still billed; with
    ``run_id``, not those that run already failed to bill."""
    stmt = select(Subscription.id).where(
        Subscription.current_period_end <= now,
        Subscription.subscription_status.in_(["active", "trialing"]),
        Subscription.status == "published",
    )
    if run_id is not None:
        stmt = stmt.where(~failures.failed_in_run(run_id, Subscription.id))
    return list(
        session.scalars(
            stmt.order_by(Subscription.current_period_end, Subscription.id).limit(limit)
        ).all()
    )


def overdue_invoice_ids(
    session: Session, now: datetime, limit: int, *, excluding: Sequence[str] = ()
) -> list[str]:
    """Finalized invoices still owed whose due date passed before ``now`` and that were not
    reported overdue yet, oldest due first (but those in ``excluding``): a range scan of
    ``ix_invoices_overdue_scan``, which holds only such invoices."""
    stmt = select(Invoice.id).where(
        text(OVERDUE_SCAN),
        Invoice.invoice_status == "FINALIZED",
        Invoice.due_date < now,
        Invoice.status == "published",
    )
    if excluding:
        stmt = stmt.where(Invoice.id.not_in(list(excluding)))
    return list(session.scalars(stmt.order_by(Invoice.due_date, Invoice.id).limit(limit)).all())


def lock_overdue_invoices(
    session: Session, invoice_ids: Sequence[str], now: datetime
) -> list[Invoice]:
    """Those of the invoices still overdue and unreported at ``now``, locked (PostgreSQL
    skips rows another clock holds and re-checks the rest once their writer commits;
    SQLite's write transaction already excludes other writers)."""
    query = (
        select(Invoice)
        .where(Invoice.id.in_(list(invoice_ids)), text(OVERDUE_SCAN), Invoice.due_date < now)
        .order_by(Invoice.id)
    )
    return list(session.scalars(dialect_of(session).for_update(query, skip_locked=True)).all())


def _renewal_due(now: datetime, lead: timedelta) -> list[Any]:
    return [
        Subscription.subscription_status == "active",
        Subscription.current_period_end > now,
        Subscription.current_period_end <= now + lead,
        or_(
            Subscription.renewal_notified_period_end.is_(None),
            Subscription.renewal_notified_period_end != Subscription.current_period_end,
        ),
    ]


def renewal_due_ids(
    session: Session,
    now: datetime,
    lead: timedelta,
    limit: int,
    *,
    excluding: Sequence[str] = (),
) -> list[str]:
    """Active subscriptions whose current period ends after ``now`` and by ``now + lead``
    and that were not sent a renewal notice for that period end, soonest first (but those
    in ``excluding``): a range scan of ``ix_subscriptions_status_period_end`` over the
    subscriptions ending within the lead time."""
    stmt = select(Subscription.id).where(
        *_renewal_due(now, lead), Subscription.status == "published"
    )
    if excluding:
        stmt = stmt.where(Subscription.id.not_in(list(excluding)))
    return list(
        session.scalars(
            stmt.order_by(Subscription.current_period_end, Subscription.id).limit(limit)
        ).all()
    )


def lock_renewals_due(
    session: Session, subscription_ids: Sequence[str], now: datetime, lead: timedelta
) -> list[Subscription]:
    """Those of the subscriptions still due a renewal notice at ``now``, locked (as
    :func:`lock_overdue_invoices`)."""
    query = (
        select(Subscription)
        .where(Subscription.id.in_(list(subscription_ids)), *_renewal_due(now, lead))
        .order_by(Subscription.id)
    )
    return list(session.scalars(dialect_of(session).for_update(query, skip_locked=True)).all())


def lock_subscription(session: Session, subscription_id: str) -> Any:
    """The subscription row, locked (PostgreSQL skips a row another clock holds)."""
    query = select(Subscription).where(Subscription.id == subscription_id)
    return session.scalars(dialect_of(session).for_update(query, skip_locked=True)).first()


def lock_due_subscriptions(session: Session, subscription_ids: Sequence[str], now: datetime) -> Any:
    """Those of the subscriptions still due at ``now``, locked (PostgreSQL skips rows another
    clock holds; SQLite's write transaction already excludes other writers)."""
    query = (
        select(Subscription)
        .where(
            Subscription.id.in_(list(subscription_ids)),
            Subscription.current_period_end <= now,
            Subscription.subscription_status.in_(["active", "trialing"]),
        )
        .order_by(Subscription.id)
    )
    return list(session.scalars(dialect_of(session).for_update(query, skip_locked=True)).all())


def external_ids(session: Session, customer_ids: Sequence[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.external_id).where(Customer.id.in_(list(customer_ids)))
    ).all()
    return {customer_id: str(external_id) for customer_id, external_id in rows}


def customer(session: Session, customer_id: str) -> Any:
    return session.get(Customer, customer_id)


def finalized_of_customer(session: Session, environment_id: str, customer_id: str) -> list[Invoice]:
    """The customer's finalized invoices, every currency, oldest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.environment_id == environment_id,
                Invoice.customer_id == customer_id,
                Invoice.invoice_status == "FINALIZED",
            )
            .order_by(Invoice.created_at, Invoice.id)
        ).all()
    )


def delete_line(session: Session, line: InvoiceLineItem) -> None:
    session.delete(line)


def lock_invoice(session: Session, invoice_id: str) -> Invoice | None:
    query = select(Invoice).where(Invoice.id == invoice_id)
    return session.scalars(dialect_of(session).for_update(query, skip_locked=True)).first()


def outstanding(
    session: Session, environment_id: str
) -> Iterator[tuple[str, Decimal, datetime | None]]:
    """(currency, amount remaining, due date) of each finalized invoice with money still owed:
    the dashboard's amounts due and overdue. Only three columns, streamed."""
    stmt = (
        select(Invoice.currency, Invoice.amount_remaining, Invoice.due_date)
        .where(
            Invoice.environment_id == environment_id,
            Invoice.status == "published",
            Invoice.invoice_status == "FINALIZED",
            Invoice.payment_status.in_(UNPAID_STATUSES),
        )
        .execution_options(yield_per=1000)
    )
    yield from session.execute(stmt).tuples()
