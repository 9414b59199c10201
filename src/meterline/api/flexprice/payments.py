"""/v1 payments (create 201, list, get, update, delete, process), an invoice's payment
attempt, a customer's saved payment methods, and refunds (list, get, retry).

Fields of the SDK's payment request that Meterline does not implement are refused by name:
``gateway_options``, ``save_card_and_make_default``, ``success_url`` and ``cancel_url`` (the
last two belong to PAYMENT_LINK payments, which are not built; checkout sessions are)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import (
    Page,
    PageQuery,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.filters import refuse_query_params
from meterline.api.json import iso, json_response
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.payments import refunds
from meterline.payments import repository as payment_rows
from meterline.payments import service as payments
from meterline.payments.models import Payment, PaymentAttempt, Refund
from meterline.payments.registry import Providers

router = APIRouter(tags=["payments"])

MAX_IDS = 100


def payment_providers(request: Request) -> Providers:
    """The process's providers, built once from its settings."""
    found: Providers | None = getattr(request.app.state, "payment_providers", None)
    if found is None:
        found = Providers(request.app.state.settings.payments)
        request.app.state.payment_providers = found
    return found


PaymentProviders = Annotated[Providers, Depends(payment_providers)]


class PaymentIn(WireModel):
    unsupported = frozenset(
        {"gateway_options", "save_card_and_make_default", "success_url", "cancel_url"}
    )
    amount: money.Amount
    currency: str = Field(min_length=3, max_length=3)
    destination_id: str = Field(min_length=1, max_length=64)
    destination_type: str = Field(max_length=20)
    payment_method_type: str = Field(max_length=20)
    payment_gateway: str | None = Field(default=None, max_length=20)
    payment_method_id: str | None = Field(default=None, min_length=1, max_length=255)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    process_payment: bool | None = None


class PaymentUpdate(WireModel):
    unsupported = frozenset(
        {
            "failed_at",
            "gateway_payment_id",
            "payment_gateway",
            "payment_method_id",
            "refunded_at",
            "succeeded_at",
            "voided_at",
        }
    )
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    payment_status: str | None = Field(default=None, max_length=20)
    gateway_tracking_id: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, max_length=2000)


class PaymentListQuery(PageQuery):
    payment_ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    destination_type: str | None = Field(default=None, max_length=20)
    destination_id: str | None = Field(default=None, max_length=64)
    payment_method_type: str | None = Field(default=None, max_length=20)
    payment_status: str | None = Field(default=None, max_length=20)
    payment_gateway: str | None = Field(default=None, max_length=20)
    currency: str | None = Field(default=None, max_length=3)
    gateway_payment_id: str | None = Field(default=None, max_length=255)
    gateway_tracking_id: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=20)
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    sort: str | None = Field(default=None, max_length=40)
    order: str | None = Field(default=None, max_length=4)


class RefundListQuery(PageQuery):
    invoice_ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    payment_ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    credit_note_ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    refund_statuses: list[str] | None = Field(default=None, max_length=MAX_IDS)
    refund_destinations: list[str] | None = Field(default=None, max_length=MAX_IDS)
    gateway: str | None = Field(default=None, max_length=20)
    only_settled: bool = False


def _attempt_out(row: PaymentAttempt) -> dict[str, Any]:
    body = {
        "id": row.id,
        "payment_id": row.payment_id,
        "attempt_number": row.attempt_number,
        "error_message": row.error_message,
        "metadata": {str(k): str(v) for k, v in (row.metadata_ or {}).items()},
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def payment_out(row: Payment, attempts: list[PaymentAttempt]) -> dict[str, Any]:
    gateway_metadata = {str(k): str(v) for k, v in (row.gateway_metadata or {}).items()}
    if row.held_credit > 0:
        gateway_metadata["held_as_customer_credit"] = money.decimal_text(row.held_credit)
    if row.refunded_amount > 0:
        gateway_metadata["refunded_amount"] = money.decimal_text(row.refunded_amount)
    body: dict[str, Any] = {
        "id": row.id,
        "amount": decimal_text(row.amount),
        "currency": row.currency,
        "destination_type": row.destination_type,
        "destination_id": row.destination_id,
        "invoice_number": row.invoice_number,
        "payment_method_type": row.payment_method_type,
        "payment_method_id": row.payment_method_id,
        "payment_gateway": row.payment_gateway,
        "gateway_payment_id": row.gateway_payment_id,
        "gateway_tracking_id": row.gateway_tracking_id,
        "gateway_metadata": gateway_metadata,
        "payment_status": row.payment_status,
        "error_message": row.error_message,
        "idempotency_key": row.idempotency_key,
        "track_attempts": True,
        "attempts": [_attempt_out(a) for a in attempts],
        "metadata": row.metadata_ or {},
        "succeeded_at": iso(row.succeeded_at),
        "failed_at": iso(row.failed_at),
        "refunded_at": iso(row.refunded_at),
        "voided_at": iso(row.voided_at),
        "environment_id": row.environment_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def _one(session: Session, row: Payment) -> dict[str, Any]:
    return payment_out(row, payments.attempts_of(session, [row])[row.id])


def refund_out(row: Refund) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "amount": decimal_text(row.amount),
        "settled_amount": decimal_text(row.settled_amount),
        "currency": row.currency,
        "attempt": row.attempt,
        "payment_id": row.payment_id,
        "invoice_id": row.invoice_id,
        "credit_note_id": row.credit_note_id,
        "refund_status": row.refund_status,
        "refund_destination": row.refund_destination,
        "refund_destination_id": row.refund_destination_id,
        "refund_reason": row.refund_reason,
        "payment_gateway": row.payment_gateway,
        "gateway_refund_id": row.gateway_refund_id,
        "gateway_idempotency_token": row.gateway_idempotency_token,
        "idempotency_key": row.gateway_idempotency_token,
        "failure_reason": row.failure_reason,
        "metadata": row.metadata_ or {},
        "initiated_at": iso(row.initiated_at),
        "succeeded_at": iso(row.succeeded_at),
        "failed_at": iso(row.failed_at),
        "status": row.status,
        "environment_id": row.environment_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


@router.post("/payments", status_code=201, summary="Create (and by default process) a payment")
def create_payment(
    body: PaymentIn, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    data = payments.NewPayment(
        amount=body.amount,
        currency=body.currency,
        destination_type=body.destination_type,
        destination_id=body.destination_id,
        payment_method_type=body.payment_method_type,
        payment_gateway=body.payment_gateway,
        payment_method_id=body.payment_method_id,
        idempotency_key=body.idempotency_key,
        metadata=body.metadata,
        process_payment=body.process_payment is not False,
    )
    row = payments.create_payment(session, principal, providers, data)
    return json_response(_one(session, row), 201)


@router.get("/payments", summary="List payments")
def list_payments(
    request: Request,
    principal: Vendor,
    session: ReadSession,
    query: Annotated[PaymentListQuery, Query()],
) -> Response:
    refuse_query_params(request, ("expand",))
    sort = query.sort or "created_at"
    if sort not in ("created_at", "updated_at", "id"):
        raise InvalidRequest(
            "sort must be one of created_at, updated_at, id",
            field="sort",
            details={"provided_value": query.sort},
        )
    if query.order not in (None, "asc", "desc"):
        raise InvalidRequest("order must be asc or desc", field="order")
    if query.status not in (None, "published", "deleted", "archived"):
        raise InvalidRequest("status must be published, deleted or archived", field="status")
    rows, total = payments.list_payments(
        session,
        principal,
        limit=query.limit,
        offset=query.offset,
        payment_ids=split_csv(query.payment_ids),
        destination_type=query.destination_type,
        destination_id=query.destination_id,
        payment_method_type=query.payment_method_type,
        payment_status=query.payment_status,
        payment_gateway=query.payment_gateway,
        currency=query.currency,
        gateway_payment_id=query.gateway_payment_id,
        gateway_tracking_id=query.gateway_tracking_id,
        status=query.status,
        start_time=query.start_time,
        end_time=query.end_time,
        sort=sort,
        order=query.order or "desc",
    )
    attempts = payments.attempts_of(session, rows)
    return list_response([payment_out(r, attempts[r.id]) for r in rows], total, query)


@router.get("/payments/{payment_id}", summary="Get a payment")
def get_payment(payment_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(_one(session, payments.get_payment(session, principal, payment_id)))


@router.put("/payments/{payment_id}", summary="Update a payment")
def update_payment(
    payment_id: str, body: PaymentUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = payments.PaymentChanges(
        metadata=body.metadata,
        payment_status=body.payment_status,
        gateway_tracking_id=body.gateway_tracking_id,
        error_message=body.error_message,
    )
    row = payments.update_payment(session, principal, payment_id, changes)
    return json_response(_one(session, row))


@router.delete("/payments/{payment_id}", summary="Delete a payment that moved no money")
def delete_payment(payment_id: str, principal: Vendor, session: WriteSession) -> Response:
    payments.delete_payment(session, principal, payment_id)
    return json_response({"message": "payment deleted successfully"})


@router.post("/payments/{payment_id}/process", summary="Process a payment")
def process_payment(
    payment_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    row = payments.process_payment(session, principal, providers, payment_id)
    return json_response(_one(session, row))


@router.post("/invoices/{invoice_id}/payment/attempt", summary="Charge what an invoice has left")
def attempt_invoice_payment(
    invoice_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    row = payments.attempt_invoice_payment(session, principal, providers, invoice_id)
    body = _one(session, row)
    body["message"] = f"payment {row.payment_status.lower()}"
    return json_response(body)


@router.get("/customers/{customer_id}/payment-methods", summary="A customer's saved methods")
def list_customer_payment_methods(
    customer_id: str,
    principal: Vendor,
    session: ReadSession,
    providers: PaymentProviders,
    wanted: list[str] | None = Query(default=None, alias="providers", max_length=10),
) -> Response:
    found = payments.payment_methods(session, principal, providers, customer_id, split_csv(wanted))
    out = []
    for name, methods, error in found:
        entry: dict[str, Any] = {
            "provider": name,
            "items": [
                {
                    "id": m.id,
                    "provider": name,
                    "type": m.type,
                    "status": "ACTIVE",
                    "is_default": m.is_default,
                    "can_auto_charge": True,
                    "instantly_chargeable": True,
                    "card": {
                        "brand": m.brand,
                        "last4": m.last4,
                        "exp_month": m.exp_month,
                        "exp_year": m.exp_year,
                    },
                }
                for m in methods
            ],
        }
        if error is not None:
            entry["error"] = {"message": error}
        out.append(entry)
    return json_response({"providers": out})


@router.get("/refunds", summary="List refunds")
def list_refunds(
    principal: Vendor, session: ReadSession, query: Annotated[RefundListQuery, Query()]
) -> Response:
    rows, total = refunds.list_refunds(
        session,
        principal,
        limit=query.limit,
        offset=query.offset,
        query=payment_rows.RefundQuery(
            invoice_ids=split_csv(query.invoice_ids),
            payment_ids=split_csv(query.payment_ids),
            credit_note_ids=split_csv(query.credit_note_ids),
            refund_statuses=split_csv(query.refund_statuses),
            refund_destinations=split_csv(query.refund_destinations),
            gateway=query.gateway,
            only_settled=query.only_settled,
        ),
    )
    return list_response([refund_out(r) for r in rows], total, query)


@router.get("/refunds/{refund_id}", summary="Get a refund")
def get_refund(refund_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(refund_out(refunds.get_refund(session, principal, refund_id)))


@router.post("/refunds/{refund_id}/retry", summary="Retry a failed refund")
def retry_refund(
    refund_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    return json_response(refund_out(refunds.retry_refund(session, principal, providers, refund_id)))


__all__ = ["Page", "PaymentProviders", "payment_providers", "router"]
