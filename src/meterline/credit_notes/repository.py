"""The SQL of credit notes."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.credit_notes.models import CreditNote, CreditNoteLineItem
from meterline.db.rows import in_environment


def credit_note(session: Session, environment_id: str, note_id: str) -> CreditNote | None:
    return in_environment(session, CreditNote, environment_id, CreditNote.id == note_id)


def by_idempotency_key(session: Session, environment_id: str, key: str) -> CreditNote | None:
    return in_environment(session, CreditNote, environment_id, CreditNote.idempotency_key == key)


def lines_of(session: Session, note_id: str) -> list[CreditNoteLineItem]:
    return list(
        session.scalars(
            select(CreditNoteLineItem)
            .where(CreditNoteLineItem.credit_note_id == note_id)
            .order_by(CreditNoteLineItem.created_at, CreditNoteLineItem.id)
        )
    )


def count_of_invoice(session: Session, invoice_id: str) -> int:
    count = session.scalar(
        select(func.count()).select_from(CreditNote).where(CreditNote.invoice_id == invoice_id)
    )
    return int(count or 0)


def credited_per_line(
    session: Session, line_ids: Sequence[str], *, except_note: str | None
) -> dict[str, Decimal]:
    """What live (DRAFT or FINALIZED) credit notes other than ``except_note`` credit on each
    invoice line (summed in Python: decimals are text on SQLite)."""
    if not line_ids:
        return {}
    stmt = (
        select(CreditNoteLineItem.invoice_line_item_id, CreditNoteLineItem.amount)
        .join(CreditNote, CreditNote.id == CreditNoteLineItem.credit_note_id)
        .where(
            CreditNoteLineItem.invoice_line_item_id.in_(line_ids),
            CreditNote.credit_note_status.in_(("DRAFT", "FINALIZED")),
        )
    )
    if except_note is not None:
        stmt = stmt.where(CreditNote.id != except_note)
    out: dict[str, Decimal] = {}
    for line_id, amount in session.execute(stmt):
        out[line_id] = out.get(line_id, Decimal(0)) + amount
    return out


def of_customer(
    session: Session, environment_id: str, customer_id: str, limit: int
) -> list[CreditNote]:
    """The customer's credit notes, newest first."""
    return list(
        session.scalars(
            select(CreditNote)
            .where(
                CreditNote.environment_id == environment_id,
                CreditNote.customer_id == customer_id,
                CreditNote.status == "published",
            )
            .order_by(CreditNote.created_at.desc(), CreditNote.id.desc())
            .limit(limit)
        )
    )
