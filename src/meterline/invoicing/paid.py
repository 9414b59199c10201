"""What a payment does to its invoice's amounts: one rule for a provider's payment, held
credit at finalize and a payment recorded by hand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from meterline.invoicing.amounts import ZERO
from meterline.invoicing.models import Invoice


def record_paid(invoice: Invoice, amount: Decimal, now: datetime) -> None:
    """Adds ``amount`` to ``amount_paid``: ``amount_remaining = max(0, due - paid)``, the
    payment status OVERPAID past what was due, SUCCEEDED at zero, PENDING while short, and
    ``paid_at`` when nothing is left."""
    invoice.amount_paid += amount
    invoice.amount_remaining = max(ZERO, invoice.amount_due - invoice.amount_paid)
    if invoice.amount_paid > invoice.amount_due:
        invoice.payment_status = "OVERPAID"
    elif invoice.amount_remaining == 0:
        invoice.payment_status = "SUCCEEDED"
    else:
        invoice.payment_status = "PENDING"
    if invoice.amount_remaining == 0:
        invoice.paid_at = now
