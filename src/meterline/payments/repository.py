"""The SQL of payments, refunds, checkout sessions and integration mappings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.db.rows import in_environment
from meterline.payments.models import (
    CheckoutSession,
    HeldCreditUse,
    IntegrationMapping,
    Payment,
    PaymentAttempt,
    Refund,
)


def payment(
    session: Session, environment_id: str, payment_id: str, *, lock: bool = False
) -> Payment | None:
    query = select(Payment).where(
        Payment.id == payment_id,
        Payment.environment_id == environment_id,
        Payment.status != "deleted",
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def payment_by_key(session: Session, environment_id: str, key: str) -> Payment | None:
    return in_environment(session, Payment, environment_id, Payment.idempotency_key == key)


def attempts_of(session: Session, payment_ids: Sequence[str]) -> dict[str, list[PaymentAttempt]]:
    out: dict[str, list[PaymentAttempt]] = {i: [] for i in payment_ids}
    if not payment_ids:
        return out
    rows = session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id.in_(list(payment_ids)))
        .order_by(PaymentAttempt.payment_id, PaymentAttempt.attempt_number)
    )
    for row in rows:
        out[row.payment_id].append(row)
    return out


def paid_payments_of_invoice(
    session: Session, environment_id: str, invoice_id: str
) -> list[Payment]:
    """The invoice's payments that moved money (newest first: refunds take from them)."""
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.environment_id == environment_id,
                Payment.destination_type == "INVOICE",
                Payment.destination_id == invoice_id,
                Payment.payment_status.in_(("SUCCEEDED", "OVERPAID", "PARTIALLY_REFUNDED")),
                Payment.status != "deleted",
            )
            .order_by(Payment.succeeded_at.desc(), Payment.id.desc())
            .with_for_update()
        )
    )


@dataclass(frozen=True)
class PaymentQuery:
    payment_ids: Sequence[str] | None = None
    destination_type: str | None = None
    destination_id: str | None = None
    payment_method_type: str | None = None
    payment_status: str | None = None
    payment_gateway: str | None = None
    currency: str | None = None
    gateway_payment_id: str | None = None
    gateway_tracking_id: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    sort: str = "created_at"
    order: str = "desc"


_PAYMENT_SORTS = {"created_at", "updated_at", "id"}


def search_payments(
    session: Session, environment_id: str, q: PaymentQuery, *, limit: int, offset: int
) -> tuple[list[Payment], int]:
    where: list[Any] = [Payment.environment_id == environment_id]
    where.append(Payment.status == q.status if q.status else Payment.status != "deleted")
    equal = {
        Payment.destination_type: q.destination_type,
        Payment.destination_id: q.destination_id,
        Payment.payment_method_type: q.payment_method_type,
        Payment.payment_status: q.payment_status,
        Payment.payment_gateway: q.payment_gateway,
        Payment.currency: q.currency,
        Payment.gateway_payment_id: q.gateway_payment_id,
        Payment.gateway_tracking_id: q.gateway_tracking_id,
    }
    where += [column == value for column, value in equal.items() if value is not None]
    if q.payment_ids is not None:
        where.append(Payment.id.in_(list(q.payment_ids)))
    if q.start_time is not None:
        where.append(Payment.created_at >= q.start_time)
    if q.end_time is not None:
        where.append(Payment.created_at < q.end_time)
    total = session.scalar(select(func.count()).select_from(Payment).where(*where)) or 0
    column = getattr(Payment, q.sort if q.sort in _PAYMENT_SORTS else "created_at")
    ordering = (
        [column.asc(), Payment.id.asc()]
        if q.order == "asc"
        else [
            column.desc(),
            Payment.id.desc(),
        ]
    )
    rows = session.scalars(
        select(Payment).where(*where).order_by(*ordering).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def refund(session: Session, environment_id: str, refund_id: str) -> Refund | None:
    return in_environment(session, Refund, environment_id, Refund.id == refund_id)


@dataclass(frozen=True)
class RefundQuery:
    invoice_ids: Sequence[str] | None = None
    payment_ids: Sequence[str] | None = None
    credit_note_ids: Sequence[str] | None = None
    refund_statuses: Sequence[str] | None = None
    refund_destinations: Sequence[str] | None = None
    gateway: str | None = None
    only_settled: bool = False


def search_refunds(
    session: Session, environment_id: str, q: RefundQuery, *, limit: int, offset: int
) -> tuple[list[Refund], int]:
    where: list[Any] = [Refund.environment_id == environment_id, Refund.status != "deleted"]
    within = {
        Refund.invoice_id: q.invoice_ids,
        Refund.payment_id: q.payment_ids,
        Refund.credit_note_id: q.credit_note_ids,
        Refund.refund_status: q.refund_statuses,
        Refund.refund_destination: q.refund_destinations,
    }
    where += [column.in_(list(values)) for column, values in within.items() if values is not None]
    if q.gateway is not None:
        where.append(Refund.payment_gateway == q.gateway)
    if q.only_settled:
        where.append(Refund.refund_status == "SUCCEEDED")
    total = session.scalar(select(func.count()).select_from(Refund).where(*where)) or 0
    rows = session.scalars(
        select(Refund)
        .where(*where)
        .order_by(Refund.created_at.desc(), Refund.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def checkout_session(
    session: Session, environment_id: str, session_id: str
) -> CheckoutSession | None:
    return in_environment(
        session,
        CheckoutSession,
        environment_id,
        CheckoutSession.id == session_id,
        CheckoutSession.status != "deleted",
    )


def checkout_by_key(session: Session, environment_id: str, key: str) -> CheckoutSession | None:
    return in_environment(
        session, CheckoutSession, environment_id, CheckoutSession.idempotency_key == key
    )


def mapping(
    session: Session, environment_id: str, entity_type: str, entity_id: str, provider: str
) -> IntegrationMapping | None:
    return in_environment(
        session,
        IntegrationMapping,
        environment_id,
        IntegrationMapping.entity_type == entity_type,
        IntegrationMapping.entity_id == entity_id,
        IntegrationMapping.provider_type == provider,
        IntegrationMapping.status == "published",
    )


def mappings_of(
    session: Session, environment_id: str, entity_type: str, entity_id: str
) -> list[IntegrationMapping]:
    return list(
        session.scalars(
            select(IntegrationMapping)
            .where(
                IntegrationMapping.environment_id == environment_id,
                IntegrationMapping.entity_type == entity_type,
                IntegrationMapping.entity_id == entity_id,
                IntegrationMapping.status == "published",
            )
            .order_by(IntegrationMapping.provider_type)
        )
    )


def providers_in_use(session: Session, environment_id: str) -> list[str]:
    return list(
        session.scalars(
            select(IntegrationMapping.provider_type)
            .where(
                IntegrationMapping.environment_id == environment_id,
                IntegrationMapping.status == "published",
            )
            .distinct()
        )
    )


def held_on_invoice(session: Session, environment_id: str, invoice_id: str) -> list[Any]:
    """The credit held by the invoice's payments (what they paid past what was due): what is
    left of it, and what of it later invoices used and did not give back."""
    payments = select(Payment.id, Payment.held_credit).where(
        Payment.environment_id == environment_id,
        Payment.destination_type == "INVOICE",
        Payment.destination_id == invoice_id,
        Payment.status != "deleted",
    )
    rows = session.execute(payments).all()
    if not rows:
        return []
    used = session.scalars(
        select(HeldCreditUse.amount).where(
            HeldCreditUse.environment_id == environment_id,
            HeldCreditUse.payment_id.in_([payment_id for payment_id, _ in rows]),
            HeldCreditUse.returned_at.is_(None),
        )
    )
    return [*(held for _, held in rows), *used]


# What a payment's held credit can still pay: a payment that moved money and was not refunded.
HOLDING_STATUSES = ("SUCCEEDED", "OVERPAID", "PARTIALLY_REFUNDED")


def holding_credit(
    session: Session, environment_id: str, customer_id: str, currency: str
) -> list[Payment]:
    """The customer's payments that hold credit in ``currency``, locked, oldest first."""
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.environment_id == environment_id,
                Payment.customer_id == customer_id,
                Payment.currency == currency,
                Payment.held_credit > 0,
                Payment.payment_status.in_(HOLDING_STATUSES),
                Payment.status != "deleted",
            )
            .order_by(Payment.succeeded_at.asc(), Payment.created_at.asc(), Payment.id.asc())
            .with_for_update()
        )
    )


def customers_with_held_credit(
    session: Session, environment_id: str, customer_ids: Sequence[str]
) -> set[tuple[str, str]]:
    """``(customer id, currency)`` in which the customers hold credit (the billing clock asks
    once per batch instead of once per invoice)."""
    if not customer_ids:
        return set()
    rows = session.execute(
        select(Payment.customer_id, Payment.currency)
        .where(
            Payment.environment_id == environment_id,
            Payment.customer_id.in_(list(customer_ids)),
            Payment.held_credit > 0,
            Payment.payment_status.in_(HOLDING_STATUSES),
            Payment.status != "deleted",
        )
        .distinct()
    ).all()
    return {(customer_id, currency) for customer_id, currency in rows}


def held_credit_uses_of_invoice(
    session: Session, environment_id: str, invoice_id: str
) -> list[HeldCreditUse]:
    """The held credit that paid the invoice and was not returned yet, locked."""
    return list(
        session.scalars(
            select(HeldCreditUse)
            .where(
                HeldCreditUse.environment_id == environment_id,
                HeldCreditUse.invoice_id == invoice_id,
                HeldCreditUse.returned_at.is_(None),
            )
            .order_by(HeldCreditUse.created_at, HeldCreditUse.id)
            .with_for_update()
        )
    )
