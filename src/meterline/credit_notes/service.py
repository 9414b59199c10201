"""Credit note rules (adjustments of unpaid amounts).

* A credit note credits lines of one FINALIZED invoice that still has an amount to pay: each
  line at most what is left of it (its amount less its discounts and the credits of other
  live credit notes), the whole at most the invoice's ``amount_remaining``; both are checked
  when it is created and again, under the invoice's row lock, when it is finalized.
* Finalizing (``process``) takes its total off the invoice: ``adjustment_amount`` grows,
  ``total``, ``amount_due`` and ``amount_remaining`` shrink by it (``total = subtotal −
  discounts + tax − prepaid credits − credit notes``); an invoice credited to zero is paid.
* A DRAFT credit note can be voided (nothing was taken off yet); a finalized one stands, as
  an issued credit note does (a new invoice charges again).
* On an invoice paid in full (nothing left to pay, something paid and not refunded) the note
  is a REFUND: at most what was paid and not yet refunded; finalizing it gives the money back
  through payments/refunds.py to ``refund_target`` (BACK_TO_SOURCE, the default: the
  payments' providers; or PREPAID_WALLET) and leaves the invoice's totals as they were (its
  ``refunded_amount`` and payment status change). ``refund_target`` on an adjustment is a
  400 naming it.
* ``idempotency_key``: the same key returns the first credit note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.credit_notes import repository
from meterline.credit_notes.models import REASONS, CreditNote, CreditNoteLineItem
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.invoicing import repository as invoice_rows
from meterline.invoicing.models import Invoice
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.payments import refunds
from meterline.payments.registry import Providers
from meterline.pricing.plans import flush_unique
from meterline.webhooks import notify

ZERO = Decimal(0)
MAX_LINES = 1000


@dataclass(frozen=True)
class CreditLine:
    invoice_line_item_id: str
    amount: Decimal
    display_name: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class NewCreditNote:
    invoice_id: str
    reason: str
    line_items: Sequence[CreditLine]
    credit_note_number: str | None = None
    idempotency_key: str | None = None
    memo: str | None = None
    metadata: dict[str, str] | None = None
    process_credit_note: bool = True
    refund_target: str | None = None


def _invoice(session: Session, principal: Principal, invoice_id: str, *, lock: bool) -> Invoice:
    found = invoice_rows.get(session, principal.environment_id, invoice_id, lock=lock)
    return existing(found, "invoice", invoice_id)


def note_type(invoice: Invoice) -> str:
    """REFUND on an invoice paid in full with something not yet refunded, else ADJUSTMENT."""
    if invoice.amount_remaining <= 0 and refunds.refundable(invoice) > 0:
        return "REFUND"
    return "ADJUSTMENT"


def _creditable_invoice(invoice: Invoice, kind: str = "ADJUSTMENT") -> None:
    if invoice.invoice_status != "FINALIZED":
        raise InvalidOperation(
            "only a finalized invoice can be credited",
            details={"invoice_status": invoice.invoice_status},
        )
    if kind == "REFUND":
        if refunds.refundable(invoice) <= 0:
            raise InvalidOperation(
                "everything paid on the invoice was refunded already",
                details={"payment_status": invoice.payment_status},
            )
    elif invoice.amount_remaining <= 0:
        raise InvalidOperation(
            "the invoice has nothing left to pay and nothing paid to refund",
            details={"payment_status": invoice.payment_status},
        )


@in_money_context
def _check_amounts(
    session: Session,
    invoice: Invoice,
    lines: Sequence[CreditLine],
    own: str | None,
    kind: str = "ADJUSTMENT",
) -> Decimal:
    """The credit note's total; a 400 naming the line or the total past what is left."""
    units = minor_units(invoice.currency)
    rows = {row.id: row for row in invoice_rows.lines_of(session, [invoice.id])[invoice.id]}
    credited = repository.credited_per_line(session, list(rows), except_note=own)
    total = ZERO
    for index, line in enumerate(lines):
        field = f"line_items[{index}].amount"
        row = rows.get(line.invoice_line_item_id)
        if row is None:
            raise InvalidRequest(
                "the invoice has no such line", field=f"line_items[{index}].invoice_line_item_id"
            )
        if line.amount <= 0 or round_money(line.amount, units) != line.amount:
            raise InvalidRequest(
                f"amount must be above 0 with at most {units} decimals", field=field
            )
        left = (
            row.amount
            - row.line_item_discount
            - row.invoice_level_discount
            - credited.get(row.id, ZERO)
        )
        if line.amount > left:
            raise InvalidRequest(
                f"the line has {max(ZERO, left)} left to credit",
                field=field,
                details={"creditable": str(max(ZERO, left))},
            )
        credited[row.id] = credited.get(row.id, ZERO) + line.amount
        total += line.amount
    if kind == "REFUND":
        if total > refunds.refundable(invoice):
            raise InvalidRequest(
                f"the credit note ({total}) is above what was paid and not refunded",
                field="line_items",
                details={"refundable": str(refunds.refundable(invoice)), "total": str(total)},
            )
    elif total > invoice.amount_remaining:
        raise InvalidRequest(
            f"the credit note ({total}) is above the invoice's remaining amount",
            field="line_items",
            details={"amount_remaining": str(invoice.amount_remaining), "total": str(total)},
        )
    return total


def create_credit_note(
    session: Session, principal: Principal, data: NewCreditNote, providers: Providers
) -> CreditNote:
    if data.reason not in REASONS:
        raise InvalidRequest(
            f"reason must be one of {', '.join(REASONS)}",
            field="reason",
            details={"allowed_values": list(REASONS), "provided_value": data.reason},
        )
    if not data.line_items:
        raise InvalidRequest("a credit note needs line_items", field="line_items")
    if data.idempotency_key:
        earlier = repository.by_idempotency_key(
            session, principal.environment_id, data.idempotency_key
        )
        if earlier is not None:
            if earlier.invoice_id != data.invoice_id:
                raise Conflict(
                    "idempotency_key was already used for another invoice",
                    details={"credit_note_id": earlier.id},
                )
            return earlier
    invoice = _invoice(session, principal, data.invoice_id, lock=True)
    kind = note_type(invoice)
    if data.refund_target is not None:
        if data.refund_target not in refunds.TARGETS:
            raise InvalidRequest(
                f"refund_target must be one of {', '.join(refunds.TARGETS)}",
                field="refund_target",
                details={"allowed_values": list(refunds.TARGETS)},
            )
        if kind != "REFUND":
            raise InvalidRequest(
                "refund_target applies to a credit note on a paid invoice (a refund)",
                field="refund_target",
                details={"credit_note_type": kind},
            )
    _creditable_invoice(invoice, kind)
    total = _check_amounts(session, invoice, data.line_items, None, kind)
    note = CreditNote(
        id=new_id("cn"),
        environment_id=principal.environment_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
        credit_note_number=data.credit_note_number
        or f"CN-{invoice.invoice_number}-{repository.count_of_invoice(session, invoice.id) + 1}",
        credit_note_status="DRAFT",
        credit_note_type=kind,
        refund_target=(data.refund_target or "BACK_TO_SOURCE") if kind == "REFUND" else None,
        reason=data.reason,
        memo=data.memo,
        currency=invoice.currency,
        total_amount=total,
        idempotency_key=data.idempotency_key or None,
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(note)
    session.add_all(
        CreditNoteLineItem(
            id=new_id("cn_line"),
            environment_id=principal.environment_id,
            credit_note_id=note.id,
            invoice_line_item_id=line.invoice_line_item_id,
            display_name=line.display_name,
            amount=line.amount,
            currency=invoice.currency,
            metadata_=dict(line.metadata or {}),
        )
        for line in data.line_items
    )
    flush_unique(session, "A credit note with this credit_note_number or idempotency_key")
    notify.credit_note_changed(session, note, "created")
    if data.process_credit_note:
        _finalize(session, note, invoice, utcnow(), providers)
    return note


def get_credit_note(session: Session, principal: Principal, note_id: str) -> CreditNote:
    found = repository.credit_note(session, principal.environment_id, note_id)
    return existing(found, "credit note", note_id)


def customer_credit_notes(
    session: Session, principal: Principal, customer_id: str, limit: int
) -> list[CreditNote]:
    """The newest ``limit`` credit notes of a customer of the caller's environment."""
    return repository.of_customer(session, principal.environment_id, customer_id, limit)


def lines_of(session: Session, note: CreditNote) -> list[CreditNoteLineItem]:
    return repository.lines_of(session, note.id)


@in_money_context
def _finalize(
    session: Session, note: CreditNote, invoice: Invoice, now: datetime, providers: Providers
) -> None:
    kind = note.credit_note_type
    _creditable_invoice(invoice, kind)
    lines = [
        CreditLine(line.invoice_line_item_id, line.amount)
        for line in repository.lines_of(session, note.id)
    ]
    total = _check_amounts(session, invoice, lines, note.id, kind)
    if kind == "REFUND":
        note.credit_note_status = "FINALIZED"
        note.finalized_at = now
        note.updated_at = now
        session.flush()
        notify.credit_note_changed(session, note, "updated")
        refunds.refund_for_credit_note(
            session,
            providers,
            invoice,
            amount=total,
            target=note.refund_target or "BACK_TO_SOURCE",
            credit_note_id=note.id,
            reason=note.reason,
            created_by=note.created_by,
        )
        return
    invoice.adjustment_amount += total
    invoice.total -= total
    invoice.amount_due -= total
    invoice.amount_remaining = max(ZERO, invoice.amount_due - invoice.amount_paid)
    if invoice.amount_remaining == 0:
        invoice.payment_status = "SUCCEEDED"
        invoice.paid_at = now
    invoice.version += 1
    note.credit_note_status = "FINALIZED"
    note.finalized_at = now
    note.updated_at = now
    session.flush()
    notify.credit_note_changed(session, note, "updated")


def process_credit_note(
    session: Session, principal: Principal, note_id: str, providers: Providers
) -> CreditNote:
    note = get_credit_note(session, principal, note_id)
    if note.credit_note_status != "DRAFT":
        raise InvalidOperation(
            f"only a draft credit note can be finalized; this one is {note.credit_note_status}"
        )
    invoice = _invoice(session, principal, note.invoice_id, lock=True)
    _finalize(session, note, invoice, utcnow(), providers)
    return note


def void_credit_note(session: Session, principal: Principal, note_id: str) -> CreditNote:
    note = get_credit_note(session, principal, note_id)
    if note.credit_note_status != "DRAFT":
        raise InvalidOperation(
            f"only a draft credit note can be voided; this one is {note.credit_note_status}"
        )
    now = utcnow()
    note.credit_note_status = "VOIDED"
    note.voided_at = now
    note.updated_at = now
    session.flush()
    notify.credit_note_changed(session, note, "updated")
    return note
