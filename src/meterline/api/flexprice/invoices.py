"""/v1 invoices: one-off create, read, search, update, finalize, void, payment status,
and the preview of a subscription's next invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import (
    Page,
    Window,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.coupons import applications_out
from meterline.api.flexprice.filters import FilterQuery, refuse_expand, refuse_query_params
from meterline.api.flexprice.taxes import applied_out
from meterline.api.json import iso, json_response
from meterline.invoicing import cycle as billing
from meterline.invoicing import edits, pdf, recalculation
from meterline.invoicing import payment_status as recorded_payments
from meterline.invoicing import service as invoices
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel import money
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.subscriptions import service as subscriptions
from meterline.webhooks import notify

router = APIRouter(tags=["invoices"])

MAX_LINES = 1000


class LineIn(WireModel):
    amount: money.Amount
    quantity: money.Quantity
    display_name: str | None = Field(default=None, max_length=255)
    price_id: str | None = Field(default=None, max_length=64)
    price_type: str | None = Field(default=None, max_length=20)
    meter_id: str | None = Field(default=None, max_length=64)
    meter_display_name: str | None = Field(default=None, max_length=255)
    plan_id: str | None = Field(default=None, max_length=64)
    plan_display_name: str | None = Field(default=None, max_length=255)
    entity_id: str | None = Field(default=None, max_length=64)
    entity_type: str | None = Field(default=None, max_length=20)
    subscription_id: str | None = Field(default=None, max_length=64)
    subscription_line_item_id: str | None = Field(default=None, max_length=64)
    price_unit: str | None = Field(default=None, max_length=20)
    price_unit_amount: money.Price | None = None
    adjusted_entitlement_quantity: money.Quantity | None = None
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class InvoiceIn(WireModel):
    unsupported = frozenset(
        {
            "billing_period",
            "checkout",
            "coupons",
            "force_sync_invoice",
            "invoice_coupons",
            "invoice_number",
            "invoice_pdf_url",
            "issue_date",
            "line_item_coupons",
            "tax_rate_overrides",
            "tax_rates",
            "total_prepaid_applied",
        }
    )
    customer_id: str = Field(min_length=1, max_length=64)
    currency: str = Field(min_length=1, max_length=3)
    amount_due: money.Amount
    subtotal: money.Amount
    total: money.Amount
    amount_paid: money.Amount | None = None
    line_items: list[LineIn] | None = Field(default=None, max_length=MAX_LINES)
    invoice_type: str | None = Field(default=None, max_length=20)
    billing_reason: str | None = Field(default=None, max_length=40)
    invoice_status: str | None = Field(default=None, max_length=20)
    payment_status: str | None = Field(default=None, max_length=20)
    subscription_id: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=2000)
    due_date: OptionalInstant = None
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None
    idempotency_key: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class InvoiceUpdate(WireModel):
    unsupported = frozenset({"apply_discount"})
    due_date: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    invoice_pdf_url: str | None = Field(default=None, max_length=2000)


class VoidIn(WireModel):
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class PaymentIn(WireModel):
    payment_status: str = Field(max_length=20)
    amount: money.Amount | None = None


# Search fields passed on as themselves, not as plain values.
NOT_FILTERS = {
    "limit",
    "offset",
    "expand",
    "skip_line_items",
    "subscription_customer_id",
    "filters",
    "sort",
}


class InvoiceSearch(FilterQuery):
    invoice_ids: list[str] | None = Field(default=None, max_length=1000)
    customer_id: str | None = Field(default=None, max_length=64)
    external_customer_id: str | None = Field(default=None, max_length=255)
    subscription_customer_id: list[str] | None = Field(default=None, max_length=1000)
    subscription_id: str | None = Field(default=None, max_length=64)
    invoice_status: list[str] | None = Field(default=None, max_length=10)
    payment_status: list[str] | None = Field(default=None, max_length=10)
    invoice_type: str | None = Field(default=None, max_length=20)
    billing_reason: str | None = Field(default=None, max_length=40)
    currency: str | None = Field(default=None, max_length=3)
    amount_due_gt: money.Amount | None = None
    amount_remaining_gt: money.Amount | None = None
    period_start_gte: OptionalInstant = None
    period_start_lte: OptionalInstant = None
    period_end_gte: OptionalInstant = None
    period_end_lte: OptionalInstant = None
    finalized_at_gte: OptionalInstant = None
    voided_at_gte: OptionalInstant = None
    skip_line_items: bool = False


class PreviewIn(WireModel):
    subscription_id: str = Field(min_length=1, max_length=64)
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None
    hide_zero_charges_line_items: bool = False


def line_out(line: InvoiceLineItem) -> dict[str, Any]:
    return {
        "id": line.id,
        "invoice_id": line.invoice_id,
        "customer_id": line.customer_id,
        "subscription_id": line.subscription_id,
        "subscription_line_item_id": line.subscription_line_item_id,
        "entity_id": line.entity_id,
        "entity_type": line.entity_type,
        "plan_display_name": line.plan_display_name,
        "price_id": line.price_id,
        "price_type": line.price_type,
        "meter_id": line.meter_id,
        "meter_display_name": line.meter_display_name,
        "price_unit": line.price_unit,
        "price_unit_amount": decimal_text(line.price_unit_amount),
        "display_name": line.display_name,
        "amount": decimal_text(line.amount),
        "quantity": decimal_text(line.quantity),
        "adjusted_entitlement_quantity": decimal_text(line.adjusted_entitlement_quantity),
        "prepaid_credits_applied": decimal_text(line.prepaid_credits_applied),
        "line_item_discount": decimal_text(line.line_item_discount),
        "invoice_level_discount": decimal_text(line.invoice_level_discount),
        "currency": line.currency,
        "period_start": iso(line.period_start),
        "period_end": iso(line.period_end),
        "metadata": line.metadata_ or {},
        "environment_id": line.environment_id,
        "tenant_id": None,
        "status": line.status,
        "created_at": iso(line.created_at),
        "updated_at": iso(line.updated_at),
    }


EXEMPTION_REASONS = {
    "customer_exempt": "The customer is exempt from tax.",
    "reverse_charge": "Reverse charge: the customer accounts for the tax.",
}


def tax_summary(invoice: Invoice) -> dict[str, Any]:
    """The invoice's tax split by behaviour, and why none was charged."""
    total = invoice.total_tax or Decimal(0)
    inclusive = invoice.inclusive_tax or Decimal(0)  # unset on a preview's unsaved invoice
    summary: dict[str, Any] = {
        "exclusive_tax": decimal_text(total - inclusive),
        "inclusive_tax": decimal_text(inclusive),
        "total_tax": decimal_text(total),
    }
    code = invoice.tax_exemption_reason_code
    if code:
        summary["exemption"] = {"reason_code": code, "reason": EXEMPTION_REASONS.get(code, code)}
    return summary


def invoice_out(invoice: Invoice, lines: list[InvoiceLineItem] | None) -> dict[str, Any]:
    overpaid = max(Decimal(0), invoice.amount_paid - invoice.amount_due)
    out: dict[str, Any] = {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "invoice_type": invoice.invoice_type,
        "invoice_status": invoice.invoice_status,
        "payment_status": invoice.payment_status,
        "currency": invoice.currency,
        "amount_due": decimal_text(invoice.amount_due),
        "amount_paid": decimal_text(invoice.amount_paid),
        "amount_remaining": decimal_text(invoice.amount_remaining),
        "overpaid_amount": decimal_text(overpaid),
        "subtotal": decimal_text(invoice.subtotal),
        "total": decimal_text(invoice.total),
        "total_discount": decimal_text(invoice.total_discount),
        "total_tax": decimal_text(invoice.total_tax),
        "tax_summary": tax_summary(invoice),
        "tax_exemption_reason_code": invoice.tax_exemption_reason_code,
        "total_prepaid_credits_applied": decimal_text(invoice.total_prepaid_credits_applied),
        "adjustment_amount": decimal_text(invoice.adjustment_amount),
        "refunded_amount": decimal_text(invoice.refunded_amount),
        "invoice_number": invoice.invoice_number,
        "idempotency_key": invoice.idempotency_key,
        "billing_sequence": invoice.billing_sequence,
        "billing_period": invoice.billing_period,
        "billing_reason": invoice.billing_reason,
        "description": invoice.description or "",
        "invoice_pdf_url": invoice.invoice_pdf_url,
        "due_date": iso(invoice.due_date),
        "issue_date": iso(invoice.issue_date),
        "paid_at": iso(invoice.paid_at),
        "voided_at": iso(invoice.voided_at),
        "finalized_at": iso(invoice.finalized_at),
        "last_computed_at": iso(invoice.last_computed_at),
        "period_start": iso(invoice.period_start),
        "period_end": iso(invoice.period_end),
        "metadata": invoice.metadata_ or {},
        "is_manually_edited": invoice.is_manually_edited,
        "recalculated_invoice_id": (invoice.metadata_ or {}).get(recalculation.REPLACEMENT),
        "version": invoice.version,
        "environment_id": invoice.environment_id,
        "tenant_id": None,
        "status": invoice.status,
        "created_at": iso(invoice.created_at),
        "updated_at": iso(invoice.updated_at),
        "created_by": invoice.created_by,
        "updated_by": invoice.updated_by,
    }
    if lines is not None:
        out["line_items"] = [line_out(line) for line in lines]
    return out


def _render(session: Any, invoice: Invoice, status: int = 200) -> Response:
    lines = invoices.lines_of(session, [invoice])[invoice.id]
    body = invoice_out(invoice, lines)
    body["coupon_applications"] = applications_out(session, invoice)
    body["taxes"] = applied_out(session, invoice)
    return json_response(body, status)


def _render_list(
    session: Any, rows: list[Invoice], total: int, page: Window, with_lines: bool
) -> Response:
    lines = invoices.lines_of(session, rows) if with_lines else {}
    items = [invoice_out(i, lines.get(i.id) if with_lines else None) for i in rows]
    return list_response(items, total, page)


@router.post("/invoices", status_code=201)
def create_invoice(body: InvoiceIn, principal: Vendor, session: WriteSession) -> Response:
    lines = [
        invoices.LineDraft(
            amount=line.amount,
            quantity=line.quantity,
            display_name=line.display_name,
            price_id=line.price_id,
            price_type=line.price_type,
            meter_id=line.meter_id,
            meter_display_name=line.meter_display_name,
            entity_id=line.entity_id or line.plan_id,
            entity_type=line.entity_type or ("plan" if line.plan_id else None),
            plan_display_name=line.plan_display_name,
            subscription_id=line.subscription_id,
            subscription_line_item_id=line.subscription_line_item_id,
            price_unit=line.price_unit,
            price_unit_amount=line.price_unit_amount,
            adjusted_entitlement_quantity=line.adjusted_entitlement_quantity,
            period_start=line.period_start,
            period_end=line.period_end,
            metadata=dict(line.metadata or {}),
        )
        for line in body.line_items or []
    ]
    invoice = invoices.create_one_off(
        session,
        principal,
        customer_id=body.customer_id,
        currency=body.currency,
        subtotal=body.subtotal,
        total=body.total,
        amount_due=body.amount_due,
        amount_paid=body.amount_paid or Decimal(0),
        lines=lines,
        invoice_type=body.invoice_type,
        billing_reason=body.billing_reason,
        invoice_status=body.invoice_status,
        payment_status=body.payment_status,
        subscription_id=body.subscription_id,
        description=body.description,
        due_date=body.due_date,
        period_start=body.period_start,
        period_end=body.period_end,
        idempotency_key=body.idempotency_key,
        metadata=body.metadata,
    )
    return _render(session, invoice, 201)


@router.get("/invoices")
def list_invoices(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    customer_id: str | None = Query(default=None, max_length=64),
    subscription_id: str | None = Query(default=None, max_length=64),
    invoice_status: list[str] | None = Query(default=None, max_length=10),
    payment_status: list[str] | None = Query(default=None, max_length=10),
    invoice_type: str | None = Query(default=None, max_length=20),
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    rows, total = invoices.search_invoices(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        customer_id=customer_id,
        subscription_id=subscription_id,
        invoice_status=split_csv(invoice_status),
        payment_status=split_csv(payment_status),
        invoice_type=invoice_type,
        ascending=order == "asc",
    )
    return _render_list(session, rows, total, page, with_lines=True)


@router.post("/invoices/search")
def search_invoices(body: InvoiceSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    rows, total = invoices.search_invoices(
        session,
        principal,
        limit=body.limit,
        offset=body.offset,
        **body.model_dump(exclude=NOT_FILTERS, exclude_none=True),
        subscription_customer_ids=body.subscription_customer_id,
        filters=body.filters,
        sort=body.sort,
    )
    return _render_list(session, rows, total, body, with_lines=not body.skip_line_items)


@router.post("/invoices/preview")
def preview_invoice(body: PreviewIn, principal: Vendor, session: ReadSession) -> Response:
    invoice, lines = billing.preview_invoice(
        session,
        subscriptions.get_subscription(session, principal, body.subscription_id),
        period_start=body.period_start,
        period_end=body.period_end,
        hide_zero_lines=body.hide_zero_charges_line_items,
    )
    return json_response(invoice_out(invoice, lines))


@router.get("/invoices/{invoice_id}")
def get_invoice(
    invoice_id: str, request: Request, principal: Vendor, session: ReadSession
) -> Response:
    refuse_query_params(request, ("expand", "expand_by_source", "group_by"))
    return _render(session, invoices.get_invoice(session, principal, invoice_id))


@router.put("/invoices/{invoice_id}")
def update_invoice(
    invoice_id: str, body: InvoiceUpdate, principal: Vendor, session: WriteSession
) -> Response:
    invoice = invoices.update_invoice(
        session,
        principal,
        invoice_id,
        due_date=body.due_date,
        metadata=body.metadata,
        invoice_pdf_url=body.invoice_pdf_url,
    )
    return _render(session, invoice)


@router.post("/invoices/{invoice_id}/finalize")
def finalize_invoice(invoice_id: str, principal: Vendor, session: WriteSession) -> Response:
    invoices.finalize_invoice(session, principal, invoice_id)
    return json_response({"message": "invoice finalized successfully"})


@router.post("/invoices/{invoice_id}/void")
def void_invoice(
    invoice_id: str, principal: Vendor, session: WriteSession, body: VoidIn | None = None
) -> Response:
    invoices.void_invoice(session, principal, invoice_id, metadata=body.metadata if body else None)
    return json_response({"message": "invoice voided successfully"})


@router.put("/invoices/{invoice_id}/payment")
def update_payment_status(
    invoice_id: str, body: PaymentIn, principal: Vendor, session: WriteSession
) -> Response:
    invoice = recorded_payments.update_payment_status(
        session, principal, invoice_id, payment_status=body.payment_status, amount=body.amount
    )
    return _render(session, invoice)


@router.get("/invoices/{invoice_id}/pdf", response_class=Response)
def invoice_pdf(
    invoice_id: str, request: Request, principal: Vendor, session: ReadSession
) -> Response:
    refuse_query_params(request, ("url", "force_generate"))
    invoice, document = pdf.invoice_pdf(session, principal, invoice_id)
    filename = f"{invoice.invoice_number or invoice.id}.pdf"
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class AddLineIn(WireModel):
    display_name: str = Field(min_length=1, max_length=255)
    amount: money.Amount
    quantity: money.Quantity
    description: str | None = Field(default=None, max_length=2000)
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None


class UpdateLineIn(WireModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    amount: money.Amount | None = None
    quantity: money.Quantity | None = None
    description: str | None = Field(default=None, max_length=2000)
    period_start: OptionalInstant = None
    period_end: OptionalInstant = None


class LineItemParamsIn(WireModel):
    action: str = Field(max_length=20)
    items: list[AddLineIn] | None = Field(default=None, max_length=edits.MAX_EDITED)
    line_item_id: str | None = Field(default=None, max_length=64)
    line_item_ids: list[str] | None = Field(default=None, max_length=edits.MAX_EDITED)
    update: UpdateLineIn | None = None


class InvoiceModifyIn(WireModel):
    type: Literal["line_item"]
    line_item_params: LineItemParamsIn | None = None


@router.post("/invoices/{invoice_id}/modify/execute", summary="Edit a draft invoice's lines")
def execute_invoice_modify(
    invoice_id: str, body: InvoiceModifyIn, principal: Vendor, session: WriteSession
) -> Response:
    params = body.line_item_params
    if params is None:
        raise InvalidRequest("line_item_params is required", field="line_item_params")
    edit = edits.LineEdit(
        action=params.action,
        items=[edits.NewLine(**item.model_dump()) for item in params.items or []],
        line_item_id=params.line_item_id,
        line_item_ids=params.line_item_ids or [],
        update=None if params.update is None else edits.LineChanges(**params.update.model_dump()),
    )
    invoice = edits.modify_invoice(session, principal, invoice_id, edit)
    lines = invoices.lines_of(session, [invoice])[invoice.id]
    body_out = invoice_out(invoice, lines)
    body_out["coupon_applications"] = applications_out(session, invoice)
    body_out["taxes"] = applied_out(session, invoice)
    return json_response({"invoice": body_out})


@router.post(
    "/invoices/{invoice_id}/recalculate-v2",
    summary="Recompute a draft subscription invoice in place (and finalize it unless told not to)",
)
def recalculate_invoice_v2(
    invoice_id: str, principal: Vendor, session: WriteSession, finalize: bool = True
) -> Response:
    invoice = recalculation.recalculate_draft(session, principal, invoice_id, finalize=finalize)
    return _render(session, invoice)


@router.post(
    "/invoices/{invoice_id}/recalculate",
    status_code=202,
    summary="Replace a voided subscription invoice with one computed now",
)
def recalculate_invoice(invoice_id: str, principal: Vendor, session: WriteSession) -> Response:
    replacement = recalculation.recalculate_voided(session, principal, invoice_id)
    return json_response(
        {
            "message": "replacement invoice created",
            "workflow_id": replacement.id,
            "run_id": replacement.id,
        },
        202,
    )


@router.post("/invoices/{invoice_id}/comms/trigger", summary="Send the invoice's webhook")
def trigger_invoice_comms_webhook(
    invoice_id: str, principal: Vendor, session: WriteSession
) -> Response:
    invoice = invoices.get_invoice(session, principal, invoice_id)
    if invoice.invoice_status != "FINALIZED":
        raise InvalidOperation(
            f"Only a finalized invoice is sent; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    notify.invoice_communication(session, invoice)
    return json_response({"message": "invoice communication webhook triggered"})


def _summary_out(found: edits.CurrencySummary, customer_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": found.currency,
        "total_invoice_count": found.total_invoice_count,
        "unpaid_invoice_count": found.unpaid_invoice_count,
        "overdue_invoice_count": found.overdue_invoice_count,
        "total_revenue_amount": decimal_text(found.total_revenue_amount),
        "total_unpaid_amount": decimal_text(found.total_unpaid_amount),
        "total_overdue_amount": decimal_text(found.total_overdue_amount),
        "unpaid_usage_charges": decimal_text(found.unpaid_usage_charges),
        "unpaid_fixed_charges": decimal_text(found.unpaid_fixed_charges),
    }


@router.get("/customers/{customer_id}/invoices/summary", summary="A customer's invoices in sum")
def get_customer_invoice_summary(
    customer_id: str, principal: Vendor, session: ReadSession
) -> Response:
    found = edits.customer_summary(session, principal, customer_id)
    return json_response(
        {
            "customer_id": found.customer_id,
            "default_currency": found.default_currency,
            "summaries": [_summary_out(s, found.customer_id) for s in found.summaries],
        }
    )
