"""/v1 credit notes: create, get, finalize (process), void. On a paid invoice a credit note
is a refund (``refund_target`` BACK_TO_SOURCE or PREPAID_WALLET: payments/refunds.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel, decimal_text
from meterline.api.flexprice.payments import PaymentProviders
from meterline.api.json import iso, json_response
from meterline.credit_notes import service as credit_notes
from meterline.credit_notes.models import CreditNote
from meterline.kernel import money

router = APIRouter(tags=["credit notes"])


class CreditLineIn(WireModel):
    invoice_line_item_id: str = Field(min_length=1, max_length=64)
    amount: money.Amount
    display_name: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class CreditNoteIn(WireModel):
    invoice_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(max_length=40)
    line_items: list[CreditLineIn] | None = Field(default=None, max_length=credit_notes.MAX_LINES)
    credit_note_number: str | None = Field(default=None, min_length=1, max_length=100)
    idempotency_key: str | None = Field(default=None, max_length=255)
    memo: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    process_credit_note: bool | None = None
    refund_target: str | None = Field(default=None, max_length=20)


class ProcessIn(WireModel):
    unsupported = frozenset({"refund_target"})


def credit_note_out(session: Session, note: CreditNote) -> dict[str, Any]:
    lines = [
        {
            "id": line.id,
            "credit_note_id": line.credit_note_id,
            "invoice_line_item_id": line.invoice_line_item_id,
            "display_name": line.display_name,
            "amount": decimal_text(line.amount),
            "currency": line.currency,
            "metadata": line.metadata_ or {},
            "status": line.status,
            "environment_id": line.environment_id,
            "created_at": iso(line.created_at),
            "updated_at": iso(line.updated_at),
        }
        for line in credit_notes.lines_of(session, note)
    ]
    body: dict[str, Any] = {
        "id": note.id,
        "invoice_id": note.invoice_id,
        "customer_id": note.customer_id,
        "subscription_id": note.subscription_id,
        "credit_note_number": note.credit_note_number,
        "credit_note_status": note.credit_note_status,
        "credit_note_type": note.credit_note_type,
        "reason": note.reason,
        "memo": note.memo,
        "refund_target": note.refund_target,
        "currency": note.currency,
        "total_amount": decimal_text(note.total_amount),
        "idempotency_key": note.idempotency_key,
        "finalized_at": iso(note.finalized_at),
        "voided_at": iso(note.voided_at),
        "metadata": note.metadata_ or {},
        "line_items": [{k: v for k, v in line.items() if v is not None} for line in lines],
        "status": note.status,
        "environment_id": note.environment_id,
        "created_by": note.created_by,
        "updated_by": note.updated_by,
        "created_at": iso(note.created_at),
        "updated_at": iso(note.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


@router.post("/creditnotes", status_code=201, summary="Create a credit note")
def create_credit_note(
    body: CreditNoteIn, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    data = credit_notes.NewCreditNote(
        invoice_id=body.invoice_id,
        reason=body.reason,
        line_items=[
            credit_notes.CreditLine(
                line.invoice_line_item_id, line.amount, line.display_name, line.metadata
            )
            for line in body.line_items or ()
        ],
        credit_note_number=body.credit_note_number,
        idempotency_key=body.idempotency_key,
        memo=body.memo,
        metadata=body.metadata,
        process_credit_note=body.process_credit_note is not False,
        refund_target=body.refund_target,
    )
    note = credit_notes.create_credit_note(session, principal, data, providers)
    return json_response(credit_note_out(session, note), 201)


@router.get("/creditnotes/{note_id}", summary="Get a credit note")
def get_credit_note(note_id: str, principal: Vendor, session: ReadSession) -> Response:
    note = credit_notes.get_credit_note(session, principal, note_id)
    return json_response(credit_note_out(session, note))


@router.post("/creditnotes/{note_id}/finalize", summary="Finalize (process) a credit note")
def process_credit_note(
    note_id: str,
    principal: Vendor,
    session: WriteSession,
    providers: PaymentProviders,
    body: ProcessIn | None = None,
) -> Response:
    del body  # nothing to read: its one field is refused by name
    note = credit_notes.process_credit_note(session, principal, note_id, providers)
    return json_response(credit_note_out(session, note))


@router.post("/creditnotes/{note_id}/void", summary="Void a draft credit note")
def void_credit_note(note_id: str, principal: Vendor, session: WriteSession) -> Response:
    note = credit_notes.void_credit_note(session, principal, note_id)
    return json_response(credit_note_out(session, note))
