"""Refunds: money paid on an invoice given back, by a REFUND credit note (credit_notes/).

* ``BACK_TO_SOURCE`` (the default) refunds through each payment's provider, newest payment
  first, each at most what is left of it (``amount − refunded_amount``): a Stripe refund of
  its PaymentIntent (``GATEWAY``), or for an offline payment a refund the vendor makes
  (``OUT_OF_BAND``, succeeded when recorded). ``PREPAID_WALLET`` credits the customer's
  wallet in the invoice's currency (``WALLET``).
* The whole is at most what was paid and not yet refunded (checked by the credit note, under
  the invoice's lock). A refund the provider refuses is FAILED with its reason and changes
  nothing else; ``retry_refund`` tries it again with a new idempotency key (the attempt's).
* A succeeded refund adds to the payment's and the invoice's ``refunded_amount``: each is
  REFUNDED when all it was paid is refunded, else PARTIALLY_REFUNDED.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.invoicing import repository as invoice_rows
from meterline.invoicing.models import Invoice
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context
from meterline.payments import repository
from meterline.payments.models import REFUND_DESTINATIONS, REFUND_STATUSES, ZERO, Payment, Refund
from meterline.payments.providers import Outcome
from meterline.payments.registry import Providers
from meterline.wallets import payments as wallet_payments
from meterline.webhooks import notify

TARGETS = ("BACK_TO_SOURCE", "PREPAID_WALLET")
# Credit note reasons -> the SDK's refund reasons.
REASONS = {
    "DUPLICATE": "DUPLICATE",
    "FRAUDULENT": "FRAUDULENT",
    "ORDER_CHANGE": "ORDER_CHANGE",
    "SERVICE_ISSUE": "SERVICE_ISSUE",
}


def refundable(invoice: Invoice) -> Decimal:
    """What was paid on the invoice and not refunded yet."""
    return max(ZERO, invoice.amount_paid - invoice.refunded_amount)


def _settle(session: Session, refund: Refund, payment: Payment | None, invoice: Invoice) -> None:
    now = refund.succeeded_at or utcnow()
    refund.settled_amount = refund.amount
    if payment is not None:
        previous = payment.payment_status
        payment.refunded_amount += refund.amount
        payment.refunded_at = now
        payment.payment_status = (
            "REFUNDED" if payment.refunded_amount >= payment.amount else "PARTIALLY_REFUNDED"
        )
        notify.payment_status_changed(session, payment, previous)
    previous_invoice = invoice.payment_status
    invoice.refunded_amount += refund.amount
    invoice.payment_status = (
        "REFUNDED" if invoice.refunded_amount >= invoice.amount_paid else "PARTIALLY_REFUNDED"
    )
    invoice.version += 1
    session.flush()
    notify.invoice_payment_changed(session, invoice, previous_invoice)


def _record(session: Session, refund: Refund, outcome: Outcome, now: datetime) -> None:
    if outcome.gateway_id:
        refund.gateway_refund_id = outcome.gateway_id
    refund.updated_at = now
    if outcome.status == "SUCCEEDED":
        refund.refund_status = "SUCCEEDED"
        refund.succeeded_at = now
        refund.failure_reason = None
    elif outcome.status == "FAILED":
        refund.refund_status = "FAILED"
        refund.failed_at = now
        refund.failure_reason = outcome.error
    else:
        refund.refund_status = "PROCESSING"


def _attempt(
    session: Session,
    providers: Providers,
    refund: Refund,
    payment: Payment | None,
    invoice: Invoice,
) -> None:
    now = utcnow()
    refund.attempt += 1
    refund.gateway_idempotency_token = f"{refund.id}-{refund.attempt}"
    if refund.refund_destination == "WALLET":
        credited = wallet_payments.refund_to_wallet(session, invoice, refund.amount, at=now)
        if credited is None:
            outcome = Outcome("FAILED", None, "the customer has no active wallet in this currency")
        else:
            refund.refund_destination_id = credited.wallet_id
            outcome = Outcome("SUCCEEDED")
    elif payment is None:
        outcome = Outcome("SUCCEEDED")  # paid otherwise: given back by the vendor
    else:
        provider = providers.get(payment.payment_gateway)
        outcome = provider.refund(
            payment.gateway_payment_id or payment.id,
            refund.amount,
            refund.currency,
            refund.gateway_idempotency_token,
        )
    _record(session, refund, outcome, now)
    if refund.refund_status == "SUCCEEDED":
        _settle(session, refund, payment, invoice)
    session.flush()
    notify.refund_settled(session, refund)


def _new(
    session: Session,
    invoice: Invoice,
    amount: Decimal,
    destination: str,
    payment: Payment | None,
    credit_note_id: str,
    reason: str,
    created_by: str | None,
) -> Refund:
    refund = Refund(
        id=new_id("refund"),
        environment_id=invoice.environment_id,
        payment_id=payment.id if payment is not None else None,
        invoice_id=invoice.id,
        credit_note_id=credit_note_id,
        amount=amount,
        currency=invoice.currency,
        refund_status="PENDING",
        refund_destination=destination,
        refund_reason=REASONS.get(reason, "OTHER"),
        payment_gateway=payment.payment_gateway if payment is not None else None,
        initiated_at=utcnow(),
        created_by=created_by,
        updated_by=created_by,
    )
    session.add(refund)
    session.flush()
    notify.refund_created(session, refund)
    return refund


@in_money_context
def refund_for_credit_note(
    session: Session,
    providers: Providers,
    invoice: Invoice,
    *,
    amount: Decimal,
    target: str,
    credit_note_id: str,
    reason: str,
    created_by: str | None,
) -> list[Refund]:
    """Gives ``amount`` of what was paid on ``invoice`` (locked by the caller) back."""
    if amount > refundable(invoice):
        raise InvalidRequest(
            f"the refund ({amount}) is above what was paid and not refunded",
            field="line_items",
            details={"refundable": str(refundable(invoice))},
        )
    if target == "PREPAID_WALLET":
        refund = _new(session, invoice, amount, "WALLET", None, credit_note_id, reason, created_by)
        _attempt(session, providers, refund, None, invoice)
        return [refund]
    made: list[Refund] = []
    left = amount
    for payment in repository.paid_payments_of_invoice(session, invoice.environment_id, invoice.id):
        take = min(left, payment.amount - payment.refunded_amount)
        if take <= 0:
            continue
        destination = "OUT_OF_BAND" if payment.payment_gateway is None else "GATEWAY"
        refund = _new(
            session, invoice, take, destination, payment, credit_note_id, reason, created_by
        )
        _attempt(session, providers, refund, payment, invoice)
        made.append(refund)
        left -= take
        if left <= 0:
            break
    if left > 0:
        # Paid otherwise (a status set by hand on the invoice): made by the vendor.
        refund = _new(
            session, invoice, left, "OUT_OF_BAND", None, credit_note_id, reason, created_by
        )
        _attempt(session, providers, refund, None, invoice)
        made.append(refund)
    return made


def get_refund(session: Session, principal: Principal, refund_id: str) -> Refund:
    found = repository.refund(session, principal.environment_id, refund_id)
    return existing(found, "refund", refund_id)


def retry_refund(
    session: Session, principal: Principal, providers: Providers, refund_id: str
) -> Refund:
    refund = get_refund(session, principal, refund_id)
    if refund.refund_status != "FAILED":
        raise InvalidOperation(
            f"only a failed refund is retried; this one is {refund.refund_status}",
            details={"refund_status": refund.refund_status},
        )
    found = invoice_rows.get(session, principal.environment_id, refund.invoice_id, lock=True)
    invoice = existing(found, "invoice", refund.invoice_id)
    payment = None
    if refund.payment_id is not None:
        payment = repository.payment(
            session, principal.environment_id, refund.payment_id, lock=True
        )
    if refund.amount > refundable(invoice):
        raise InvalidOperation("the invoice has less left to refund than this refund")
    _attempt(session, providers, refund, payment, invoice)
    return refund


def _choices(values: Sequence[str] | None, allowed: Sequence[str], name: str) -> None:
    for value in values or ():
        if value not in allowed:
            raise InvalidRequest(
                f"{name} must be among {', '.join(allowed)}",
                field=name,
                details={"allowed_values": list(allowed), "provided_value": value},
            )


def list_refunds(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    query: repository.RefundQuery,
) -> tuple[list[Refund], int]:
    _choices(query.refund_statuses, REFUND_STATUSES, "refund_statuses")
    _choices(query.refund_destinations, REFUND_DESTINATIONS, "refund_destinations")
    return repository.search_refunds(
        session, principal.environment_id, query, limit=limit, offset=offset
    )
