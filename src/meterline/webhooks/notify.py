"""What each webhook event says, and when it fires. Services call one function per event
where the change happens; each writes to the outbox in the caller's transaction.

Flexprice's events carry the body of the SDK's payload model for their type
(webhooks/payloads.py); Meterline-only events carry ids and values as flat fields: decimals
as strings, instants as RFC 3339 (UTC).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from meterline.customers.models import Customer
from meterline.webhooks import payloads
from meterline.webhooks.outbox import record, wanted
from meterline.webhooks.payloads import iso, meterline_payload, text

if TYPE_CHECKING:
    from meterline.catalog.models import Feature
    from meterline.credit_notes.models import CreditNote
    from meterline.entitlements.models import Entitlement
    from meterline.invoicing.failure_models import BillingFailure
    from meterline.invoicing.models import Invoice
    from meterline.payments.models import CheckoutSession, Payment, Refund
    from meterline.subscriptions.models import Subscription
    from meterline.wallets.models import Wallet, WalletTransaction

# instance.usage_threshold_reached fires when an accepted report takes a counter across
# one of these percentages of its limit.
INSTANCE_THRESHOLDS = (Decimal(80), Decimal(100))
# wallet.credit_balance.dropped fires when a debit takes the balance from above the
# wallet's ``low_balance_threshold`` metadata value (credits; default 0) to at or below it.
LOW_BALANCE_METADATA_KEY = "low_balance_threshold"
PAID = ("SUCCEEDED", "OVERPAID")


def customer_changed(session: Session, row: Customer, change: str) -> None:
    """``customer.created``, ``customer.updated`` or ``customer.deleted`` (``change``)."""
    event_type = f"customer.{change}"
    record(session, row.environment_id, event_type, payloads.customer_payload(event_type, row))


def feature_changed(session: Session, row: Feature, change: str) -> None:
    """``feature.created``, ``feature.updated`` or ``feature.deleted`` (``change``)."""
    event_type = f"feature.{change}"
    record(session, row.environment_id, event_type, payloads.feature_payload(event_type, row))


def entitlement_changed(session: Session, row: Entitlement, change: str) -> None:
    """``entitlement.created``, ``entitlement.updated`` or ``entitlement.deleted``."""
    event_type = f"entitlement.{change}"
    body = payloads.entitlement_payload(event_type, row)
    record(session, row.environment_id, event_type, body)


def _invoice_event(session: Session, invoice: Invoice, event_type: str) -> None:
    body = payloads.invoice_payload(session, event_type, invoice)
    record(session, invoice.environment_id, event_type, body)


def invoice_drafted(session: Session, invoice: Invoice) -> None:
    """``invoice.create.drafted``: an invoice was created as a DRAFT (API or billing clock).
    Built only when an endpoint wants it: the clock drafts one per billed period."""
    if wanted(session, invoice.environment_id, "invoice.create.drafted"):
        _invoice_event(session, invoice, "invoice.create.drafted")


def invoice_updated(session: Session, invoice: Invoice) -> None:
    """``invoice.update``: the invoice's own fields (due date, metadata, PDF URL) changed
    through the API; its status transitions have their own events."""
    _invoice_event(session, invoice, "invoice.update")


def invoice_finalized(session: Session, invoice: Invoice) -> None:
    _invoice_event(session, invoice, "invoice.update.finalized")
    if invoice.payment_status in PAID:
        _invoice_event(session, invoice, "invoice.update.payment")


def invoice_overdue(session: Session, invoice: Invoice) -> None:
    """``invoice.payment.overdue``: the billing clock found the finalized invoice still owed
    after its due date (once per invoice). Built only when an endpoint wants it."""
    if wanted(session, invoice.environment_id, "invoice.payment.overdue"):
        _invoice_event(session, invoice, "invoice.payment.overdue")


def invoice_payment_changed(session: Session, invoice: Invoice, previous_status: str) -> None:
    """``invoice.update.payment`` when a payment changes the invoice's payment status."""
    if invoice.payment_status != previous_status:
        _invoice_event(session, invoice, "invoice.update.payment")


def invoice_voided(session: Session, invoice: Invoice) -> None:
    _invoice_event(session, invoice, "invoice.update.voided")


def invoice_communication(session: Session, invoice: Invoice) -> None:
    """The vendor asked for the invoice to be sent to its customer (email, chat: the
    receiving endpoint's choice)."""
    _invoice_event(session, invoice, "invoice.communication.triggered")


def _subscription_event(session: Session, sub: Subscription, event_type: str) -> None:
    owner = session.get(Customer, sub.customer_id)
    body = payloads.subscription_payload(event_type, sub, owner)
    record(session, sub.environment_id, event_type, body)


def subscription_created(session: Session, sub: Subscription) -> None:
    _subscription_event(session, sub, "subscription.created")


def subscription_changed(session: Session, sub: Subscription, event_type: str) -> None:
    """``subscription.updated``, ``.paused``, ``.resumed``, ``.plan_changed``, ``.activated``
    or ``.draft.created`` (``event_type``), with the subscription as it is now."""
    _subscription_event(session, sub, event_type)


def subscription_cancelled(session: Session, sub: Subscription) -> None:
    _subscription_event(session, sub, "subscription.cancelled")


def subscription_renewal_due(session: Session, sub: Subscription) -> None:
    """``subscription.renewal.due``: the billing clock found the subscription's current
    period ending within the lead time, and renewing then (once per period). Built only
    when an endpoint wants it."""
    if wanted(session, sub.environment_id, "subscription.renewal.due"):
        _subscription_event(session, sub, "subscription.renewal.due")


def billing_failed(session: Session, failure: BillingFailure) -> None:
    """The billing clock could not bill a period (or finalize a draft); retried every run."""
    event_type = "subscription.billing_failed"
    fields = {
        "subscription_id": failure.subscription_id,
        "invoice_id": failure.invoice_id,
        "stage": failure.stage,
        "period_start": iso(failure.period_start),
        "period_end": iso(failure.period_end),
        "reason": failure.reason,
        "first_failed_at": iso(failure.first_failed_at),
    }
    record(session, failure.environment_id, event_type, meterline_payload(event_type, fields))


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
    fields = {
        "customer_id": customer.id,
        "external_customer_id": customer.external_id,
        "feature_id": feature_id,
        "feature_lookup_key": feature_key,
        "usage_limit": text(limit),
        "usage": text(before if refused else after),
        "requested_usage": text(after),
    }

    def send(event_type: str) -> None:
        body = meterline_payload(event_type, fields)
        record(session, customer.environment_id, event_type, body)

    if refused:
        send("entitlement.limit_exceeded")
        return
    if before < limit <= after:
        send("entitlement.usage_reached")
    if before <= limit < after:
        send("entitlement.limit_exceeded")


def wallet_debited(session: Session, wallet: Wallet, before: Decimal) -> None:
    raw = (wallet.metadata_ or {}).get(LOW_BALANCE_METADATA_KEY)
    try:
        threshold = Decimal(str(raw)) if raw is not None else Decimal(0)
    except ArithmeticError:
        threshold = Decimal(0)
    if not threshold.is_finite():
        threshold = Decimal(0)
    if before > threshold >= wallet.credit_balance:
        event_type = "wallet.credit_balance.dropped"
        owner = session.get(Customer, wallet.customer_id)
        body = payloads.wallet_payload(
            event_type, wallet, owner, threshold=threshold, state="in_alarm"
        )
        record(session, wallet.environment_id, event_type, body)


def wallet_transaction_created(session: Session, entry: WalletTransaction) -> None:
    """``wallet.transaction.created``: a credit or debit entry was written to a wallet.
    Built only when an endpoint wants it (a debit can follow every paid invoice)."""
    event_type = "wallet.transaction.created"
    if wanted(session, entry.environment_id, event_type):
        body = payloads.wallet_transaction_payload(event_type, entry)
        record(session, entry.environment_id, event_type, body)


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
            event_type = "instance.usage_threshold_reached"
            fields = {
                "instance_slug": instance_slug,
                "entitlement_slug": entitlement_slug,
                "threshold_percent": text(percent),
                "usage_limit": text(limit),
                "usage": text(after),
            }
            record(session, environment_id, event_type, meterline_payload(event_type, fields))


# A payment's status -> the event its change to that status sends.
PAYMENT_STATUS_EVENTS = {
    "SUCCEEDED": "payment.success",
    "OVERPAID": "payment.success",
    "FAILED": "payment.failed",
    "PENDING": "payment.pending",
    "PROCESSING": "payment.pending",
}
REFUND_STATUS_EVENTS = {"SUCCEEDED": "refund.succeeded", "FAILED": "refund.failed"}


def payment_changed(session: Session, row: Payment, change: str) -> None:
    """``payment.created`` or ``payment.updated`` (``change``)."""
    event_type = f"payment.{change}"
    record(session, row.environment_id, event_type, payloads.payment_payload(event_type, row))


def payment_status_changed(session: Session, row: Payment, previous_status: str) -> None:
    """``payment.success``, ``payment.failed`` or ``payment.pending`` when a payment's
    status changes to one of theirs."""
    event_type = PAYMENT_STATUS_EVENTS.get(row.payment_status)
    if event_type is None or row.payment_status == previous_status:
        return
    record(session, row.environment_id, event_type, payloads.payment_payload(event_type, row))


# A checkout session's status -> the event its change to that status sends ("pending", the
# customer confirming at the provider, has no event).
CHECKOUT_STATUS_EVENTS = {
    "initiated": "checkout.session.initiated",
    "completed": "checkout.session.completed",
    "expired": "checkout.session.expired",
    "failed": "checkout.session.failed",
}


def checkout_status_changed(session: Session, row: CheckoutSession, previous: str | None) -> None:
    """``checkout.session.initiated``, ``.completed``, ``.expired`` or ``.failed`` when the
    session's status changes to one of theirs (``previous`` None: the session is new)."""
    event_type = CHECKOUT_STATUS_EVENTS.get(row.checkout_status)
    if event_type is None or row.checkout_status == previous:
        return
    body = payloads.checkout_session_payload(event_type, row)
    record(session, row.environment_id, event_type, body)


def refund_created(session: Session, row: Refund) -> None:
    body = payloads.refund_payload("refund.created", row)
    record(session, row.environment_id, "refund.created", body)


def refund_settled(session: Session, row: Refund) -> None:
    """``refund.succeeded`` or ``refund.failed`` as the refund's status says."""
    event_type = REFUND_STATUS_EVENTS.get(row.refund_status)
    if event_type is not None:
        record(session, row.environment_id, event_type, payloads.refund_payload(event_type, row))


def wallet_alert(
    session: Session, event_type: str, wallet: Wallet, config: dict[str, Any], state: str
) -> None:
    """``wallet.credit_balance.dropped`` or ``.recovered`` of an alert setting on the wallet."""
    owner = session.get(Customer, wallet.customer_id)
    body = payloads.wallet_alert_payload(event_type, wallet, owner, config, state)
    record(session, wallet.environment_id, event_type, body)


def spend_alert(
    session: Session,
    event_type: str,
    sub: Subscription,
    *,
    alert_type: str,
    alert_status: str,
    spend: Decimal,
    threshold: Decimal | None,
    line_item_id: str | None,
    at: datetime,
) -> None:
    """``subscription[.line_item]_spend.threshold_reached`` or ``_recovered``."""
    owner = session.get(Customer, sub.customer_id)
    body = payloads.spend_alert_payload(
        sub,
        owner,
        alert_type=alert_type,
        alert_status=alert_status,
        spend=spend,
        threshold=threshold,
        line_item_id=line_item_id,
        at=at,
    )
    record(session, sub.environment_id, event_type, body)


def entitlement_alert(
    session: Session,
    event_type: str,
    *,
    environment_id: str,
    setting_id: str,
    entitlement_id: str,
    feature_id: str | None,
    customer_id: str | None,
    alert_status: str,
    threshold_type: str,
    threshold: Decimal | None,
    usage: Decimal,
    usage_limit: Decimal | None,
    period_start: datetime,
    at: datetime,
) -> None:
    """``entitlement.usage_threshold.reached`` or ``.recovered`` (Meterline's own: the SDK
    has no body for an entitlement threshold)."""
    owner = session.get(Customer, customer_id) if customer_id else None
    fields = {
        "alert_setting_id": setting_id,
        "alert_type": "entitlement_grant_threshold",
        "alert_status": alert_status,
        "entitlement_id": entitlement_id,
        "feature_id": feature_id,
        "customer_id": customer_id,
        "external_customer_id": owner.external_id if owner is not None else None,
        "threshold_type": threshold_type,
        "threshold": text(threshold),
        "usage": text(usage),
        "usage_limit": text(usage_limit),
        "period_start": iso(period_start),
        "triggered_at": iso(at),
    }
    record(session, environment_id, event_type, meterline_payload(event_type, fields))


def credit_note_changed(session: Session, row: CreditNote, change: str) -> None:
    """``credit_note.created`` or ``credit_note.updated`` (``change``)."""
    event_type = f"credit_note.{change}"
    record(session, row.environment_id, event_type, payloads.credit_note_payload(event_type, row))


def wallet_changed(session: Session, row: Wallet, change: str) -> None:
    """``wallet.created``, ``wallet.updated`` or ``wallet.terminated`` (``change``)."""
    event_type = f"wallet.{change}"
    owner = session.get(Customer, row.customer_id)
    record(session, row.environment_id, event_type, payloads.wallet_payload(event_type, row, owner))
