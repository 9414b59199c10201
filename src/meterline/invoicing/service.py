"""Invoice rules: one-off creation, lifecycle (finalize, void), payment status, numbering.

* Lines are rounded once to the currency's minor units; ``subtotal = Σ lines − the tax
  carved out of tax-inclusive prices`` and
  ``total = max(0, subtotal − prepaid credits − discount + tax)``.
* Finalizing (DRAFT → FINALIZED) applies the customer's wallet credits, then the credit the
  customer holds in the invoice's currency (``amount_paid``), then assigns the
  next number ``INV-YYYYMM-NNNNN`` of the environment and month. A number is taken from a
  counter row in the finalizing transaction, so numbers are never reused; a rolled-back
  finalization gives its number back with the rollback.
* Void follows the upstream rules (invoice_status DRAFT | FINALIZED | SKIPPED and
  payment_status PENDING | FAILED | SUCCEEDED | PARTIALLY_REFUNDED | OVERPAID); what the
  wallet paid, and what was paid otherwise, goes back to the wallet, except an overpayment,
  which stays held as the customer's credit on its payment (payments/service.py), and what
  held credit paid, which is held again on the payments it came from (payments/held_credit.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.discounts import service as coupons
from meterline.invoicing import numbering, repository
from meterline.invoicing.amounts import ZERO, invoice_totals
from meterline.invoicing.lines import LineDraft
from meterline.invoicing.models import (
    BILLING_REASONS,
    INVOICE_STATUSES,
    INVOICE_TYPES,
    PAYMENT_STATUSES,
    Invoice,
    InvoiceLineItem,
)
from meterline.invoicing.paid import record_paid
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.payments import held_credit
from meterline.payments import repository as payment_rows
from meterline.taxes import associations as tax_associations
from meterline.wallets import payments as wallet_payments
from meterline.wallets import service as wallets
from meterline.webhooks import notify

VOIDABLE_STATUSES = ("DRAFT", "FINALIZED", "SKIPPED")
VOIDABLE_PAYMENTS = ("PENDING", "FAILED", "SUCCEEDED", "PARTIALLY_REFUNDED", "OVERPAID")
PAYABLE_STATUSES = ("PENDING", "PROCESSING", "INITIATED", "FAILED", "SUCCEEDED", "OVERPAID")
CREDIT_APPLIED_TYPES = ("SUBSCRIPTION", "ONE_OFF")
# The most lines an invoice holds (a one-off invoice's line_items, a draft edited by hand).
MAX_INVOICE_LINES = 1000


def _choice(value: str | None, allowed: Sequence[str], field_name: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidRequest(
            f"{field_name} must be one of {', '.join(allowed)}",
            field=field_name,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def get_invoice(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    invoice = repository.get(session, principal.environment_id, invoice_id)
    return existing(invoice, "invoice", invoice_id)


def _locked(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    invoice = repository.get(session, principal.environment_id, invoice_id, lock=True)
    return existing(invoice, "invoice", invoice_id)


def locked_invoice(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    """The caller's invoice, locked for an update in this transaction."""
    return _locked(session, principal, invoice_id)


def lines_of(session: Session, invoices: Sequence[Invoice]) -> dict[str, list[InvoiceLineItem]]:
    return repository.lines_of(session, [i.id for i in invoices])


def _store_lines(
    session: Session, invoice: Invoice, drafts: Sequence[LineDraft]
) -> list[InvoiceLineItem]:
    rows = [line_item(invoice, position, draft) for position, draft in enumerate(drafts)]
    session.add_all(rows)
    return rows


def _discount(
    session: Session, invoice: Invoice, rows: Sequence[InvoiceLineItem], *, replacing: bool
) -> None:
    """The subscription's coupons on its invoice's lines (``discounts``), then the tax on
    what is left of each line (``taxes``): discounts are taken before tax."""
    invoice.total_discount = coupons.discount_invoice(session, invoice, rows, replacing=replacing)
    taxed = tax_associations.tax_invoice(session, invoice, rows, replacing=replacing)
    invoice.total_tax = taxed.total
    invoice.inclusive_tax = taxed.inclusive
    invoice.tax_exemption_reason_code = taxed.exemption


def rediscount_drafts(session: Session, environment_id: str, subscription_id: str) -> None:
    """Discounts (and taxes) again the subscription's DRAFT invoices (coupons redeemed after its opening
    invoice was written, in the same transaction)."""
    drafts = repository.drafts_of_subscription(session, environment_id, subscription_id)
    rows = repository.lines_of(session, [i.id for i in drafts])
    for invoice in drafts:
        _discount(session, invoice, rows[invoice.id], replacing=True)
        _apply_totals_from_rows(invoice, rows[invoice.id])
    session.flush()


def line_item(invoice: Invoice, position: int, draft: LineDraft) -> InvoiceLineItem:
    """``draft`` as line ``position`` of ``invoice``, its amount rounded once, to the
    invoice's currency's minor units; no credits or discounts applied to it yet."""
    return InvoiceLineItem(
        invoice_id=invoice.id,
        environment_id=invoice.environment_id,
        customer_id=invoice.customer_id,
        position=position,
        subscription_id=draft.subscription_id or invoice.subscription_id,
        subscription_line_item_id=draft.subscription_line_item_id,
        entity_id=draft.entity_id,
        entity_type=draft.entity_type,
        plan_display_name=draft.plan_display_name,
        price_id=draft.price_id,
        price_type=draft.price_type,
        meter_id=draft.meter_id,
        meter_display_name=draft.meter_display_name,
        price_unit=draft.price_unit,
        price_unit_amount=draft.price_unit_amount,
        display_name=draft.display_name,
        amount=round_money(draft.amount, minor_units(invoice.currency)),
        quantity=draft.quantity,
        adjusted_entitlement_quantity=draft.adjusted_entitlement_quantity,
        prepaid_credits_applied=ZERO,
        line_item_discount=ZERO,
        invoice_level_discount=ZERO,
        currency=invoice.currency,
        period_start=draft.period_start,
        period_end=draft.period_end,
        metadata_=dict(draft.metadata),
        status="published",
    )


def _apply_totals(invoice: Invoice, drafts: Sequence[LineDraft]) -> None:
    totals = invoice_totals(
        [d.amount for d in drafts],
        invoice.currency,
        prepaid_credits=invoice.total_prepaid_credits_applied or ZERO,
        discount=invoice.total_discount or ZERO,
        tax=invoice.total_tax or ZERO,
        inclusive_tax=invoice.inclusive_tax or ZERO,
        amount_paid=invoice.amount_paid or ZERO,
    )
    invoice.subtotal = totals.subtotal
    invoice.total = totals.total
    invoice.amount_due = totals.amount_due
    invoice.amount_remaining = totals.amount_remaining


def create_one_off(
    session: Session,
    principal: Principal,
    *,
    customer_id: str,
    currency: str,
    subtotal: Decimal,
    total: Decimal,
    amount_due: Decimal,
    lines: Sequence[LineDraft] = (),
    amount_paid: Decimal = ZERO,
    invoice_type: str | None = None,
    billing_reason: str | None = None,
    invoice_status: str | None = None,
    payment_status: str | None = None,
    subscription_id: str | None = None,
    description: str | None = None,
    due_date: datetime | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    idempotency_key: str | None = None,
    metadata: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Invoice:
    """A draft invoice from the caller's amounts.

    With lines, the amounts are computed from them and the caller's ``subtotal``/``total``
    must agree; without lines, the caller's amounts stand. A reused ``idempotency_key``
    returns the first invoice when the amounts agree and is a conflict otherwise.
    """
    now = now or utcnow()
    currency = wallets.check_currency(currency)
    _choice(invoice_type, INVOICE_TYPES, "invoice_type")
    _choice(billing_reason, BILLING_REASONS, "billing_reason")
    if _choice(invoice_status, INVOICE_STATUSES, "invoice_status") not in (None, "DRAFT"):
        raise InvalidRequest("A new invoice starts as DRAFT", field="invoice_status")
    if _choice(payment_status, PAYMENT_STATUSES, "payment_status") not in (None, "PENDING"):
        raise InvalidRequest("A new invoice starts PENDING", field="payment_status")
    for name, value in (
        ("subtotal", subtotal),
        ("total", total),
        ("amount_due", amount_due),
        ("amount_paid", amount_paid),
    ):
        if not value.is_finite() or value < 0:
            raise InvalidRequest(f"{name} must not be negative", field=name)
    for index, draft in enumerate(lines):
        if not draft.amount.is_finite() or draft.amount < 0:
            raise InvalidRequest(
                "line amounts must not be negative", field=f"line_items[{index}].amount"
            )
        if not draft.quantity.is_finite() or draft.quantity < 0:
            raise InvalidRequest(
                "line quantities must not be negative", field=f"line_items[{index}].quantity"
            )
    if period_start and period_end and period_end < period_start:
        raise InvalidRequest("period_end must not be before period_start", field="period_end")
    customer = customers.get_customer(session, principal, customer_id)
    if idempotency_key:
        earlier = repository.by_idempotency_key(session, principal.environment_id, idempotency_key)
        if earlier is not None:
            if (
                earlier.total != round_money(total, minor_units(currency))
                or earlier.customer_id != customer.id
            ):
                raise Conflict(
                    "idempotency_key was already used for a different invoice",
                    details={"idempotency_key": idempotency_key, "invoice_id": earlier.id},
                )
            return earlier
    invoice = Invoice(
        environment_id=principal.environment_id,
        customer_id=customer.id,
        subscription_id=subscription_id,
        invoice_type=invoice_type or "ONE_OFF",
        invoice_status="DRAFT",
        payment_status="PENDING",
        currency=currency,
        amount_paid=round_money(amount_paid, minor_units(currency)),
        total_prepaid_credits_applied=ZERO,
        total_discount=ZERO,
        total_tax=ZERO,
        version=1,
        billing_reason=billing_reason or "MANUAL",
        description=description,
        due_date=due_date or now + timedelta(days=1),
        period_start=period_start,
        period_end=period_end,
        idempotency_key=idempotency_key or None,
        metadata_=dict(metadata or {}),
        last_computed_at=now,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    if lines:
        _apply_totals(invoice, lines)
        for name, given in (("subtotal", subtotal), ("total", total), ("amount_due", amount_due)):
            computed = getattr(invoice, name)
            if round_money(given, minor_units(currency)) != computed:
                raise InvalidRequest(
                    f"{name} does not match the line items ({computed})",
                    field=name,
                    details={"expected": str(computed), "provided_value": str(given)},
                )
    else:
        if round_money(total, minor_units(currency)) > round_money(subtotal, minor_units(currency)):
            raise InvalidRequest("total must not exceed subtotal", field="total")
        invoice.subtotal = round_money(subtotal, minor_units(currency))
        invoice.total = round_money(total, minor_units(currency))
        invoice.total_discount = invoice.subtotal - invoice.total
        invoice.amount_due = round_money(amount_due, minor_units(currency))
        invoice.amount_remaining = max(ZERO, invoice.amount_due - invoice.amount_paid)
    session.add(invoice)
    session.flush()
    _store_lines(session, invoice, lines)
    session.flush()
    notify.invoice_drafted(session, invoice)
    return invoice


def create_billing_invoice(
    session: Session,
    *,
    environment_id: str,
    customer_id: str,
    subscription_id: str,
    currency: str,
    billing_reason: str,
    billing_key: str,
    period_start: datetime,
    period_end: datetime,
    lines: Sequence[LineDraft],
    now: datetime,
    finalize_after: datetime | None = None,
    billing_period: str | None = None,
    metadata: dict[str, str] | None = None,
    flush: bool = True,
) -> Invoice:
    """A DRAFT subscription invoice. ``billing_key`` names what it bills; a second invoice
    with the same key is refused by the database (IntegrityError), so it is billed once.
    With ``flush=False`` the rows are only added to the session (a batch flushes once) and
    the caller sends ``invoice.create.drafted`` (``notify.invoice_drafted``) once flushed."""
    invoice = Invoice(
        id=new_id("inv"),
        environment_id=environment_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        invoice_type="SUBSCRIPTION",
        invoice_status="DRAFT",
        payment_status="PENDING",
        currency=currency.lower(),
        billing_reason=billing_reason,
        billing_key=billing_key,
        amount_paid=ZERO,
        total_prepaid_credits_applied=ZERO,
        total_discount=ZERO,
        total_tax=ZERO,
        version=1,
        billing_period=billing_period,
        period_start=period_start,
        period_end=period_end,
        due_date=now + timedelta(days=1),
        finalize_after=finalize_after,
        last_computed_at=now,
        metadata_=dict(metadata or {}),
    )
    session.add(invoice)
    _discount(session, invoice, _store_lines(session, invoice, lines), replacing=False)
    _apply_totals(invoice, lines)
    if flush:
        session.flush()
        notify.invoice_drafted(session, invoice)
    return invoice


def recompute_draft(
    session: Session, invoice: Invoice, lines: Sequence[LineDraft], now: datetime
) -> Invoice:
    """Replaces a DRAFT invoice's lines (late events) and its totals."""
    if invoice.invoice_status != "DRAFT":
        raise InvalidOperation("Only a draft invoice can be recomputed")
    repository.delete_lines(session, invoice.id)
    _discount(session, invoice, _store_lines(session, invoice, lines), replacing=True)
    _apply_totals(invoice, lines)
    invoice.last_computed_at = now
    invoice.version += 1
    session.flush()
    return invoice


def edit_lines(
    session: Session,
    invoice: Invoice,
    *,
    drop: Sequence[InvoiceLineItem],
    add: Sequence[tuple[int, LineDraft]],
    now: datetime,
) -> list[InvoiceLineItem]:
    """Edits a DRAFT invoice's lines in place: ``drop`` goes, each ``(position, draft)`` of
    ``add`` is stored at its position; the other lines keep their ids. Discounts, taxes and
    totals are computed again over the result."""
    if invoice.invoice_status != "DRAFT":
        raise InvalidOperation("Only a draft invoice's lines can be edited")
    for line in drop:
        session.delete(line)
    session.flush()
    kept = repository.lines_of(session, [invoice.id])[invoice.id]
    added = [line_item(invoice, position, draft) for position, draft in add]
    session.add_all(added)
    rows = sorted([*kept, *added], key=lambda line: line.position)
    _discount(session, invoice, rows, replacing=True)
    # From the rows even when none is left: an invoice whose lines all went owes nothing.
    _apply_totals(invoice, [LineDraft(amount=line.amount, quantity=ZERO) for line in rows])
    invoice.last_computed_at = now
    invoice.version += 1
    session.flush()
    return rows


def update_invoice(
    session: Session,
    principal: Principal,
    invoice_id: str,
    *,
    due_date: datetime | None = None,
    metadata: dict[str, str] | None = None,
    invoice_pdf_url: str | None = None,
) -> Invoice:
    """Changes the invoice's own fields; ``invoice.update`` is sent when one of them
    changes (a call that sets them to what they are sends nothing)."""
    invoice = _locked(session, principal, invoice_id)
    if invoice.invoice_status == "VOIDED":
        raise InvalidOperation("A voided invoice cannot be updated")
    before = (invoice.due_date, dict(invoice.metadata_ or {}), invoice.invoice_pdf_url)
    if due_date is not None:
        if due_date != invoice.due_date:
            # A new due date: reported overdue again (once) if it passes unpaid too.
            invoice.overdue_notified_at = None
        invoice.due_date = due_date
    if metadata is not None:
        invoice.metadata_ = {**invoice.metadata_, **metadata}
    if invoice_pdf_url is not None:
        invoice.invoice_pdf_url = invoice_pdf_url
    invoice.version += 1
    invoice.updated_by = principal.user_id
    session.flush()
    if (invoice.due_date, dict(invoice.metadata_ or {}), invoice.invoice_pdf_url) != before:
        notify.invoice_updated(session, invoice)
    return invoice


@in_money_context
def finalize(
    session: Session,
    invoice: Invoice,
    *,
    now: datetime | None = None,
    number: str | None = None,
    check_wallets: bool = True,
    check_held_credit: bool = True,
) -> Invoice:
    """DRAFT → FINALIZED: wallet credits applied, then the customer's held credit, number
    assigned. SKIPPED is a no-op.

    The billing clock passes a ``number`` it took in a block for its batch, and
    ``check_wallets=False`` (``check_held_credit=False``) for customers it knows have no
    active wallet (no held credit) in the invoice's currency."""
    now = now or utcnow()
    if invoice.invoice_status == "SKIPPED":
        return invoice
    if invoice.invoice_status != "DRAFT":
        raise InvalidOperation(
            f"Only a draft invoice can be finalized; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    if (
        check_wallets
        and invoice.invoice_type in CREDIT_APPLIED_TYPES
        and invoice.amount_remaining > 0
    ):
        paid = wallet_payments.pay_from_wallets(session, invoice, invoice.amount_remaining, at=now)
        if paid > 0:
            invoice.total_prepaid_credits_applied += paid
            lines = repository.lines_of(session, [invoice.id])[invoice.id]
            _spread_credits(lines, paid)
            _apply_totals_from_rows(invoice, lines)
    if (
        check_held_credit
        and invoice.invoice_type in CREDIT_APPLIED_TYPES
        and invoice.amount_remaining > 0
    ):
        _pay_from_held_credit(session, invoice, now)
    invoice.invoice_number = number or numbering.next_number(session, invoice, now)
    invoice.invoice_status = "FINALIZED"
    invoice.finalized_at = now
    invoice.issue_date = invoice.issue_date or now
    if invoice.amount_remaining <= 0:
        invoice.payment_status = "SUCCEEDED"
        invoice.paid_at = now
    invoice.version += 1
    session.flush()
    notify.invoice_finalized(session, invoice)
    return invoice


def _pay_from_held_credit(session: Session, invoice: Invoice, now: datetime) -> None:
    """The customer's held credit pays what is left, as a payment would (``amount_paid``)."""
    paid = held_credit.pay_from_held_credit(session, invoice, invoice.amount_remaining, at=now)
    if paid <= 0:
        return
    record_paid(invoice, paid, now)


def _spread_credits(lines: Sequence[InvoiceLineItem], paid: Decimal) -> None:
    left = paid
    for line in lines:
        if left <= 0:
            break
        share = min(left, line.amount - line.prepaid_credits_applied)
        if share > 0:
            line.prepaid_credits_applied += share
            left -= share


def _apply_totals_from_rows(invoice: Invoice, lines: Sequence[InvoiceLineItem]) -> None:
    if lines:
        _apply_totals(invoice, [LineDraft(amount=line.amount, quantity=ZERO) for line in lines])
        return
    totals = invoice_totals(
        [invoice.subtotal],
        invoice.currency,
        prepaid_credits=invoice.total_prepaid_credits_applied,
        discount=invoice.total_discount,
        tax=invoice.total_tax,
        amount_paid=invoice.amount_paid,
    )
    invoice.total = totals.total
    invoice.amount_due = totals.amount_due
    invoice.amount_remaining = totals.amount_remaining


def finalize_invoice(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    invoice = _locked(session, principal, invoice_id)
    return finalize(session, invoice)


@in_money_context
def void_invoice(
    session: Session,
    principal: Principal,
    invoice_id: str,
    *,
    metadata: dict[str, str] | None = None,
) -> Invoice:
    now = utcnow()
    invoice = _locked(session, principal, invoice_id)
    if invoice.invoice_status not in VOIDABLE_STATUSES:
        raise InvalidOperation(
            f"An invoice that is {invoice.invoice_status} cannot be voided",
            details={"invoice_status": invoice.invoice_status},
        )
    if invoice.payment_status not in VOIDABLE_PAYMENTS:
        raise InvalidOperation(
            f"An invoice whose payment is {invoice.payment_status} cannot be voided",
            details={"payment_status": invoice.payment_status},
        )
    # An overpayment stays held as the customer's credit (on its payment): not a wallet's;
    # held credit that paid this invoice goes back to where it was held (after the wallet:
    # wallets are locked before held credit, as at finalize).
    held = sum(payment_rows.held_on_invoice(session, invoice.environment_id, invoice.id), ZERO)
    from_held = held_credit.used_on_invoice(session, invoice)
    returned = invoice.total_prepaid_credits_applied + invoice.amount_paid - held - from_held
    refunded = None
    if returned > 0:
        refunded = wallet_payments.refund_to_wallet(session, invoice, returned, at=now)
    held_again = held_credit.return_held_credit(session, invoice, at=now)
    if refunded is not None or held_again > 0:
        invoice.refunded_amount += (returned if refunded is not None else ZERO) + held_again
        invoice.payment_status = "REFUNDED"
    elif invoice.payment_status == "PENDING":
        invoice.payment_status = "VOIDED"
    invoice.invoice_status = "VOIDED"
    invoice.voided_at = now
    if metadata:
        invoice.metadata_ = {**invoice.metadata_, **metadata}
    invoice.version += 1
    invoice.updated_by = principal.user_id
    session.flush()
    notify.invoice_voided(session, invoice)
    return invoice


def search_invoices(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Invoice], int]:
    for status in filters.get("invoice_status") or ():
        _choice(status, INVOICE_STATUSES, "invoice_status")
    for status in filters.get("payment_status") or ():
        _choice(status, PAYMENT_STATUSES, "payment_status")
    _choice(filters.get("invoice_type"), INVOICE_TYPES, "invoice_type")
    _choice(filters.get("billing_reason"), BILLING_REASONS, "billing_reason")
    if filters.get("currency"):
        filters["currency"] = str(filters["currency"]).lower()
    if "ascending" in filters:
        filters["order"] = "asc" if filters.pop("ascending") else "desc"
    return repository.search(
        session,
        principal.environment_id,
        repository.InvoiceQuery(**filters),
        limit=limit,
        offset=offset,
    )


@in_money_context
def unpaid_amount(
    session: Session, environment_id: str, customer_id: str, currency: str
) -> Decimal:
    return sum(
        (
            i.amount_remaining
            for i in repository.unpaid_total(session, environment_id, customer_id, currency)
        ),
        ZERO,
    )
