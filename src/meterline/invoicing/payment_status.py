"""A payment outcome recorded on an invoice by hand (``PUT /v1/invoices/{id}/payment``, the
dashboard's "Mark paid"): the status is checked, and what was paid counts in
``amount_paid`` as a payment's does (:func:`meterline.invoicing.paid.record_paid`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.invoicing import service
from meterline.invoicing.models import PAYMENT_STATUSES, Invoice
from meterline.invoicing.paid import record_paid
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.pricing.fields import choice
from meterline.webhooks import notify

SETTABLE_PAYMENTS = ("PENDING", "PROCESSING", "INITIATED", "FAILED", "SUCCEEDED", "OVERPAID")


@in_money_context
def update_payment_status(
    session: Session,
    principal: Principal,
    invoice_id: str,
    *,
    payment_status: str,
    amount: Decimal | None = None,
) -> Invoice:
    """Records a payment outcome. ``amount`` (default: what remains) is added to
    ``amount_paid`` on SUCCEEDED; paying more than is due makes the invoice OVERPAID."""
    now = utcnow()
    choice(payment_status, PAYMENT_STATUSES, "payment_status")
    if payment_status not in SETTABLE_PAYMENTS:
        raise InvalidRequest(
            f"payment_status cannot be set to {payment_status} directly",
            field="payment_status",
            details={"allowed_values": list(SETTABLE_PAYMENTS), "provided_value": payment_status},
        )
    if amount is not None and (not amount.is_finite() or amount <= 0):
        raise InvalidRequest("amount must be greater than 0", field="amount")
    invoice = service.locked_invoice(session, principal, invoice_id)
    previous_payment = invoice.payment_status
    if invoice.invoice_status != "FINALIZED":
        raise InvalidOperation(
            f"Payments are recorded on finalized invoices; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    if invoice.payment_status in ("SUCCEEDED", "OVERPAID") and payment_status != "SUCCEEDED":
        raise InvalidOperation(
            f"The invoice is already paid ({invoice.payment_status})",
            details={"payment_status": invoice.payment_status},
        )
    if payment_status in ("SUCCEEDED", "OVERPAID"):
        if invoice.payment_status in ("SUCCEEDED", "OVERPAID") and amount is None:
            raise InvalidOperation("The invoice is already paid")
        paid = round_money(
            amount if amount is not None else invoice.amount_remaining,
            minor_units(invoice.currency),
        )
        record_paid(invoice, paid, now)
    else:
        invoice.payment_status = payment_status
    invoice.version += 1
    invoice.updated_by = principal.user_id
    session.flush()
    notify.invoice_payment_changed(session, invoice, previous_payment)
    return invoice
