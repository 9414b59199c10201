"""Editing a DRAFT invoice's lines (``execute_invoice_modify``), and the customer's invoice
summary.

* ``add`` appends lines (``display_name``, ``amount`` ≥ 0, ``quantity`` ≥ 0, optional
  description and period); ``update`` edits one line, which is stored again under a new id
  (upstream: "edits are versioned, so the id changes"); ``remove`` deletes lines. Only a
  DRAFT invoice is edited; its coupons and taxes are applied again to the edited lines and
  its totals recomputed, it is marked ``is_manually_edited`` and its version grows.
* A manually edited draft is no longer recomputed from usage by the billing clock (late
  events would undo the edit); ``recalculate_invoice_v2`` recomputes it on request and
  drops the edits.
* The summary counts each currency's FINALIZED invoices (a draft is not owed yet, a void
  one owes nothing): how many, how many unpaid and overdue (unpaid past ``due_date``), what
  was paid (revenue), what remains unpaid, and that unpaid amount split by the lines it
  comes from (USAGE or fixed), in proportion to each line's amount after discounts and
  credits, rounded to the currency's minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.base import utcnow
from meterline.invoicing import repository
from meterline.invoicing import service as invoices
from meterline.invoicing.amounts import ZERO
from meterline.invoicing.lines import LineDraft
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context, minor_units, round_money

ACTIONS = ("add", "update", "remove")
MAX_EDITED = 100


@dataclass(frozen=True)
class NewLine:
    display_name: str
    amount: Decimal
    quantity: Decimal
    description: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class LineChanges:
    display_name: str | None = None
    amount: Decimal | None = None
    quantity: Decimal | None = None
    description: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class LineEdit:
    action: str
    items: Sequence[NewLine] = ()
    line_item_id: str | None = None
    line_item_ids: Sequence[str] = ()
    update: LineChanges | None = None


def _check_line(amount: Decimal | None, quantity: Decimal | None, where: str) -> None:
    if amount is not None and amount < 0:
        raise InvalidRequest("amount must not be negative", field=f"{where}.amount")
    if quantity is not None and quantity < 0:
        raise InvalidRequest("quantity must not be negative", field=f"{where}.quantity")


def _check_period(start: datetime | None, end: datetime | None, where: str) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidRequest(
            "period_end must not be before period_start", field=f"{where}.period_end"
        )


def _draft_of(line: InvoiceLineItem) -> LineDraft:
    return LineDraft(
        amount=line.amount,
        quantity=line.quantity,
        display_name=line.display_name,
        price_id=line.price_id,
        price_type=line.price_type,
        meter_id=line.meter_id,
        meter_display_name=line.meter_display_name,
        entity_id=line.entity_id,
        entity_type=line.entity_type,
        plan_display_name=line.plan_display_name,
        subscription_id=line.subscription_id,
        subscription_line_item_id=line.subscription_line_item_id,
        price_unit=line.price_unit,
        price_unit_amount=line.price_unit_amount,
        adjusted_entitlement_quantity=line.adjusted_entitlement_quantity,
        period_start=line.period_start,
        period_end=line.period_end,
        metadata=dict(line.metadata_ or {}),
    )


def _new_draft(item: NewLine) -> LineDraft:
    metadata = {"description": item.description} if item.description else {}
    return LineDraft(
        amount=item.amount,
        quantity=item.quantity,
        display_name=item.display_name,
        period_start=item.period_start,
        period_end=item.period_end,
        metadata=metadata,
    )


def modify_invoice(
    session: Session, principal: Principal, invoice_id: str, edit: LineEdit
) -> Invoice:
    """One ``add``, ``update`` or ``remove`` of a DRAFT invoice's lines (module docstring)."""
    if edit.action not in ACTIONS:
        raise InvalidRequest(
            f"line_item_params.action must be one of {', '.join(ACTIONS)}",
            field="line_item_params.action",
        )
    invoice = invoices.locked_invoice(session, principal, invoice_id)
    if invoice.invoice_status != "DRAFT":
        raise InvalidOperation(
            f"Only a draft invoice's lines can be edited; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    rows = repository.lines_of(session, [invoice.id])[invoice.id]
    by_id = {line.id: line for line in rows}
    drop: list[InvoiceLineItem] = []
    add: list[tuple[int, LineDraft]] = []
    after = max((line.position for line in rows), default=-1) + 1
    if edit.action == "add":
        if not edit.items:
            raise InvalidRequest("add needs at least one item", field="line_item_params.items")
        for i, item in enumerate(edit.items):
            where = f"line_item_params.items[{i}]"
            if not item.display_name.strip():
                raise InvalidRequest("display_name is required", field=f"{where}.display_name")
            _check_line(item.amount, item.quantity, where)
            _check_period(item.period_start, item.period_end, where)
            add.append((after + i, _new_draft(item)))
    elif edit.action == "update":
        where = "line_item_params.update"
        line = by_id.get(edit.line_item_id or "")
        if line is None:
            raise InvalidRequest(
                "line_item_id names no line of this invoice", field="line_item_params.line_item_id"
            )
        changes = edit.update or LineChanges()
        _check_line(changes.amount, changes.quantity, where)
        draft = _draft_of(line)
        for name in ("display_name", "amount", "quantity", "period_start", "period_end"):
            value = getattr(changes, name)
            if value is not None:
                setattr(draft, name, value)
        if changes.description is not None:
            draft.metadata["description"] = changes.description
        _check_period(draft.period_start, draft.period_end, where)
        drop.append(line)
        add.append((line.position, draft))
    else:
        ids = list(edit.line_item_ids)
        if not ids:
            raise InvalidRequest(
                "remove needs at least one line item id", field="line_item_params.line_item_ids"
            )
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise InvalidRequest(
                "line_item_ids names lines not on this invoice",
                field="line_item_params.line_item_ids",
                details={"provided_value": unknown},
            )
        drop = [by_id[i] for i in dict.fromkeys(ids)]
    if len(rows) - len(drop) + len(add) > invoices.MAX_INVOICE_LINES:
        raise InvalidRequest(
            f"an invoice has at most {invoices.MAX_INVOICE_LINES} lines",
            field="line_item_params.items",
        )
    invoices.edit_lines(session, invoice, drop=drop, add=add, now=utcnow())
    invoice.is_manually_edited = True
    invoice.updated_by = principal.user_id
    session.flush()
    return invoice


@dataclass
class CurrencySummary:
    currency: str
    total_invoice_count: int = 0
    unpaid_invoice_count: int = 0
    overdue_invoice_count: int = 0
    total_revenue_amount: Decimal = ZERO
    total_unpaid_amount: Decimal = ZERO
    total_overdue_amount: Decimal = ZERO
    unpaid_usage_charges: Decimal = ZERO
    unpaid_fixed_charges: Decimal = ZERO


@dataclass
class CustomerSummary:
    customer_id: str
    default_currency: str | None
    summaries: list[CurrencySummary] = field(default_factory=list)


@in_money_context
def customer_summary(
    session: Session, principal: Principal, customer_id: str, *, now: datetime | None = None
) -> CustomerSummary:
    """Each currency's finalized invoices of the customer (module docstring)."""
    now = now or utcnow()
    customer = customers.get_customer(session, principal, customer_id)
    rows = repository.finalized_of_customer(session, principal.environment_id, customer.id)
    unpaid = [i for i in rows if i.amount_remaining > 0]
    lines = repository.lines_of(session, [i.id for i in unpaid])
    out: dict[str, CurrencySummary] = {}
    for invoice in rows:
        s = out.setdefault(invoice.currency, CurrencySummary(invoice.currency))
        s.total_invoice_count += 1
        s.total_revenue_amount += invoice.amount_paid
        if invoice.amount_remaining <= 0:
            continue
        s.unpaid_invoice_count += 1
        s.total_unpaid_amount += invoice.amount_remaining
        if invoice.due_date is not None and invoice.due_date < now:
            s.overdue_invoice_count += 1
            s.total_overdue_amount += invoice.amount_remaining
        usage, fixed = _split(invoice, lines.get(invoice.id, []))
        s.unpaid_usage_charges += usage
        s.unpaid_fixed_charges += fixed
    default = (customer.billing_currency or "").lower() or (rows[-1].currency if rows else None)
    return CustomerSummary(customer.id, default, sorted(out.values(), key=lambda s: s.currency))


def _split(invoice: Invoice, lines: Sequence[InvoiceLineItem]) -> tuple[Decimal, Decimal]:
    """What remains of ``invoice``, split between its USAGE and other lines."""
    net = {
        line.id: max(
            ZERO,
            line.amount
            - line.line_item_discount
            - line.invoice_level_discount
            - line.prepaid_credits_applied,
        )
        for line in lines
    }
    whole = sum(net.values(), ZERO)
    if whole <= 0:
        return ZERO, invoice.amount_remaining
    usage_net = sum((net[line.id] for line in lines if line.price_type == "USAGE"), ZERO)
    usage = round_money(invoice.amount_remaining * usage_net / whole, minor_units(invoice.currency))
    return usage, invoice.amount_remaining - usage
