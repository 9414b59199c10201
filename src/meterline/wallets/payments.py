"""Invoices paid from, and refunded to, a customer's wallets."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from meterline.invoicing.amounts import ZERO
from meterline.kernel.money import in_money_context, minor_units
from meterline.wallets import repository
from meterline.wallets.ledger import CREDIT_SCALE, credit, debit, expire_credits
from meterline.wallets.models import Wallet, WalletTransaction


class InvoiceOfCustomer(Protocol):
    """What wallet payments and held credit read of an invoice (``invoicing.models.Invoice``)."""

    @property
    def id(self) -> str: ...

    @property
    def environment_id(self) -> str: ...

    @property
    def customer_id(self) -> str: ...

    @property
    def currency(self) -> str: ...


def _wallets(session: Session, invoice: InvoiceOfCustomer) -> list[Wallet]:
    """The invoice's customer's active wallets in its currency, locked, oldest first."""
    return repository.active_of_customer(
        session, invoice.environment_id, invoice.customer_id, invoice.currency, lock=True
    )


@in_money_context
def pay_from_wallets(
    session: Session, invoice: InvoiceOfCustomer, amount: Decimal, *, at: datetime
) -> Decimal:
    """Pays up to ``amount`` (in the invoice's currency) of ``invoice`` from its customer's
    active pre-paid wallets in that currency; returns what was paid, in whole minor units."""
    paid = ZERO
    unit = Decimal(1).scaleb(-minor_units(invoice.currency))
    for wallet in _wallets(session, invoice):
        if wallet.wallet_type != "PRE_PAID" or paid >= amount:
            continue
        expire_credits(session, wallet, at)
        available = wallet.credit_balance * wallet.conversion_rate
        take = min(amount - paid, available).quantize(unit, rounding=ROUND_DOWN)
        if take <= 0:
            continue
        quantity = take / wallet.conversion_rate
        quantity = min(quantity.quantize(CREDIT_SCALE), wallet.credit_balance)
        debit(
            session,
            wallet,
            quantity,
            reason="INVOICE_PAYMENT",
            reference_type="INVOICE",
            reference_id=invoice.id,
            description="Invoice payment",
            at=at,
        )
        paid += take
    return paid


@in_money_context
def refund_to_wallet(
    session: Session, invoice: InvoiceOfCustomer, amount: Decimal, *, at: datetime
) -> WalletTransaction | None:
    """Credits ``amount`` (in the invoice's currency) of ``invoice`` back to its customer's
    first active wallet in that currency (INVOICE_VOID_REFUND); None when the customer has no such wallet."""
    wallets = _wallets(session, invoice)
    if not wallets or amount <= 0:
        return None
    wallet = wallets[0]
    quantity = (amount / wallet.conversion_rate).quantize(CREDIT_SCALE)
    return credit(
        session,
        wallet,
        quantity,
        reason="INVOICE_VOID_REFUND",
        description="Refund of a voided invoice",
        expiry=None,
        priority=None,
        idempotency_key=None,
        metadata=None,
        now=at,
        reference_type="INVOICE",
        reference_id=invoice.id,
    )
