"""The customer's held credit paying later invoices, and given back when they are voided.

* Credit is held on a payment (``Payment.held_credit``): what an offline payment paid past
  what its invoice had left, or all of a ``CUSTOMER`` prepayment (payments/service.py).
* When an invoice is finalized, the credit its customer holds in the invoice's currency pays
  it (after wallet credits), oldest payment first, never more than the invoice has left.
  Each use is a ``HeldCreditUse`` row (the payment, the invoice, the amount) and comes off
  the payment's ``held_credit`` in the same transaction, under the payment's row lock, so a
  credit is used once even when two invoices of the customer are finalized at once (on
  SQLite the write lock taken at the start of the transaction serializes them).
* Voiding the invoice gives each use back to its payment's ``held_credit`` (``returned_at``
  set), not to a wallet.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.db.base import new_id
from meterline.kernel.money import in_money_context
from meterline.payments import repository
from meterline.payments.models import ZERO, HeldCreditUse, Payment
from meterline.wallets.payments import InvoiceOfCustomer
from meterline.webhooks import notify


@in_money_context
def pay_from_held_credit(
    session: Session, invoice: InvoiceOfCustomer, amount: Decimal, *, at: datetime
) -> Decimal:
    """Pays up to ``amount`` of ``invoice`` from the credit its customer holds in the
    invoice's currency, oldest first; returns what was paid. Held credit is already in the
    currency's minor units (payment amounts are), so no rounding happens here."""
    if amount <= 0:
        return ZERO
    paid = ZERO
    used: list[Payment] = []
    holding = repository.holding_credit(
        session, invoice.environment_id, invoice.customer_id, invoice.currency.lower()
    )
    for payment in holding:
        if paid >= amount:
            break
        used.append(payment)
        take = min(amount - paid, payment.held_credit)
        payment.held_credit -= take
        payment.updated_at = at
        session.add(
            HeldCreditUse(
                id=new_id("hcu"),
                environment_id=invoice.environment_id,
                customer_id=invoice.customer_id,
                payment_id=payment.id,
                invoice_id=invoice.id,
                currency=payment.currency,
                amount=take,
            )
        )
        paid += take
    if used:
        session.flush()
        for payment in used:
            notify.payment_changed(session, payment, "updated")
    return paid


def used_on_invoice(session: Session, invoice: InvoiceOfCustomer) -> Decimal:
    """What held credit paid of ``invoice`` and was not given back."""
    uses = repository.held_credit_uses_of_invoice(session, invoice.environment_id, invoice.id)
    return sum((use.amount for use in uses), ZERO)


@in_money_context
def return_held_credit(session: Session, invoice: InvoiceOfCustomer, *, at: datetime) -> Decimal:
    """Gives the held credit that paid ``invoice`` back to the payments it came from (the
    invoice is being voided); returns how much."""
    uses = repository.held_credit_uses_of_invoice(session, invoice.environment_id, invoice.id)
    returned = ZERO
    for use in uses:
        payment = repository.payment(session, invoice.environment_id, use.payment_id, lock=True)
        use.returned_at = at
        returned += use.amount
        if payment is None:  # cannot happen: a payment that moved money is never deleted
            continue
        payment.held_credit += use.amount
        payment.updated_at = at
        session.flush()
        notify.payment_changed(session, payment, "updated")
    session.flush()
    return returned
