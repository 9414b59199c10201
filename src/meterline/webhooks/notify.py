"""What each webhook event says, and when it fires. Services call one function per event
where the change happens; each writes to the outbox in the caller's transaction.

Payloads carry ids, not whole objects: decimals as strings, instants as RFC 3339 (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from meterline.kernel.money import decimal_text
from meterline.webhooks.outbox import record

if TYPE_CHECKING:
    from meterline.customers.models import Customer
    from meterline.invoicing.failure_models import BillingFailure
    from meterline.invoicing.models import Invoice
    from meterline.subscriptions.models import Subscription
    from meterline.wallets.models import Wallet

# instance.usage_threshold_reached fires when an accepted report takes a counter across
# one of these percentages of its limit.
INSTANCE_THRESHOLDS = (Decimal(80), Decimal(100))
# wallet.balance_low fires when a debit takes the balance from above the wallet's
# ``low_balance_threshold`` metadata value (credits; default 0) to at or below it.
LOW_BALANCE_METADATA_KEY = "low_balance_threshold"


def _text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return decimal_text(value)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _invoice(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "invoice_number": invoice.invoice_number,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "total": _text(invoice.total),
        "amount_due": _text(invoice.amount_due),
        "amount_paid": _text(invoice.amount_paid),
        "amount_remaining": _text(invoice.amount_remaining),
        "invoice_status": invoice.invoice_status,
        "payment_status": invoice.payment_status,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
    }


def invoice_finalized(session: Session, invoice: Invoice) -> None:
    record(session, invoice.environment_id, "invoice.finalized", _invoice(invoice))
    if invoice.payment_status in ("SUCCEEDED", "OVERPAID"):
        invoice_paid(session, invoice)


def invoice_paid(session: Session, invoice: Invoice) -> None:
    record(session, invoice.environment_id, "invoice.paid", _invoice(invoice))


def invoice_payment_changed(session: Session, invoice: Invoice, previous_status: str) -> None:
    """``invoice.paid`` when a payment makes the invoice paid (not when it already was)."""
    paid = ("SUCCEEDED", "OVERPAID")
    if invoice.payment_status in paid and previous_status not in paid:
        invoice_paid(session, invoice)


def invoice_voided(session: Session, invoice: Invoice) -> None:
    record(session, invoice.environment_id, "invoice.voided", _invoice(invoice))


def _subscription(sub: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": sub.id,
        "customer_id": sub.customer_id,
        "plan_id": sub.plan_id,
        "subscription_status": sub.subscription_status,
        "currency": sub.currency,
        "current_period_start": _iso(sub.current_period_start),
        "current_period_end": _iso(sub.current_period_end),
        "cancelled_at": _iso(sub.cancelled_at),
        "cancel_at": _iso(sub.cancel_at),
    }


def subscription_created(session: Session, sub: Subscription) -> None:
    record(session, sub.environment_id, "subscription.created", _subscription(sub))


def subscription_cancelled(session: Session, sub: Subscription) -> None:
    record(session, sub.environment_id, "subscription.cancelled", _subscription(sub))


def billing_failed(session: Session, failure: BillingFailure) -> None:
    """The billing clock could not bill a period (or finalize a draft); retried every run."""
    record(
        session,
        failure.environment_id,
        "subscription.billing_failed",
        {
            "subscription_id": failure.subscription_id,
            "invoice_id": failure.invoice_id,
            "stage": failure.stage,
            "period_start": _iso(failure.period_start),
            "period_end": _iso(failure.period_end),
            "reason": failure.reason,
            "first_failed_at": _iso(failure.first_failed_at),
        },
    )


def entitlement_consumed(
    session: Session,
    customer: Customer,
    feature_id: str,
    feature_key: str | None,
    limit: Decimal | None,
    before: Decimal,
    after: Decimal,
    *,
    refused: bool,
) -> None:
    """After a check-and-consume: ``limit_exceeded`` when refused by a hard limit or when a
    soft limit is first passed; ``usage_reached`` when usage first reaches the limit."""
    if limit is None:
        return
    payload = {
        "customer_id": customer.id,
        "external_customer_id": customer.external_id,
        "feature_id": feature_id,
        "feature_lookup_key": feature_key,
        "usage_limit": _text(limit),
        "usage": _text(before if refused else after),
        "requested_usage": _text(after),
    }
    if refused:
        record(session, customer.environment_id, "entitlement.limit_exceeded", payload)
        return
    if before < limit <= after:
        record(session, customer.environment_id, "entitlement.usage_reached", payload)
    if before <= limit < after:
        record(session, customer.environment_id, "entitlement.limit_exceeded", payload)


def wallet_debited(session: Session, wallet: Wallet, before: Decimal) -> None:
    raw = (wallet.metadata_ or {}).get(LOW_BALANCE_METADATA_KEY)
    try:
        threshold = Decimal(str(raw)) if raw is not None else Decimal(0)
    except ArithmeticError:
        threshold = Decimal(0)
    if not threshold.is_finite():
        threshold = Decimal(0)
    if before > threshold >= wallet.credit_balance:
        record(
            session,
            wallet.environment_id,
            "wallet.balance_low",
            {
                "wallet_id": wallet.id,
                "customer_id": wallet.customer_id,
                "currency": wallet.currency,
                "credit_balance": _text(wallet.credit_balance),
                "threshold": _text(threshold),
            },
        )


def instance_usage_reported(
    session: Session,
    environment_id: str,
    instance_slug: str | None,
    entitlement_slug: str | None,
    limit: Decimal | None,
    before: Decimal,
    after: Decimal,
) -> None:
    if limit is None or limit <= 0:
        return
    for percent in INSTANCE_THRESHOLDS:
        mark = limit * percent / 100
        if before < mark <= after:
            record(
                session,
                environment_id,
                "instance.usage_threshold_reached",
                {
                    "instance_slug": instance_slug,
                    "entitlement_slug": entitlement_slug,
                    "threshold_percent": _text(percent),
                    "usage_limit": _text(limit),
                    "usage": _text(after),
                },
            )
