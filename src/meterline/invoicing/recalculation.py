"""Recomputing a subscription invoice on request.

* ``recalculate_draft`` (``recalculate_invoice_v2``): a DRAFT subscription invoice is
  recomputed in place from what is stored now, its coupons and taxes applied again, and then
  finalized unless the caller says not to (upstream's default is to finalize). A period-end
  invoice recomputes its period's usage charges (late events) and keeps its advance
  charges, as the billing clock does before it finalizes; an opening invoice recomputes its
  period's advance charges from the subscription's current prices and quantities. Hand
  edits (``invoicing.edits``) are dropped.
* ``recalculate_voided`` (``recalculate_invoice``): a VOIDED subscription invoice gets one
  replacement DRAFT for the same period, computed now; the replacement is billed once
  (its billing key is the voided invoice's, marked), so asking again answers the same
  replacement. The voided invoice names it in ``recalculated_invoice_id``. Upstream runs
  this as a workflow and answers 202 with its ids; Meterline does it in the request and
  answers the replacement's id as ``workflow_id``.
* Other invoices (one-off, proration, change invoices) are refused: nothing recomputes them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.invoicing import compute, cycle, repository, usage_loader
from meterline.invoicing import service as invoices
from meterline.invoicing.lines import LineDraft
from meterline.invoicing.models import Invoice
from meterline.kernel import calendar as periods
from meterline.kernel.errors import InvalidOperation
from meterline.subscriptions.models import Subscription

RECOMPUTED = ("SUBSCRIPTION_CYCLE", "SUBSCRIPTION_CREATE")
REPLACEMENT = "recalculated_invoice_id"


def _subscription(session: Session, invoice: Invoice) -> tuple[Subscription, periods.Period]:
    sub = session.get(Subscription, invoice.subscription_id) if invoice.subscription_id else None
    if (
        sub is None
        or invoice.invoice_type != "SUBSCRIPTION"
        or invoice.billing_reason not in RECOMPUTED
        or invoice.period_start is None
        or invoice.period_end is None
    ):
        raise InvalidOperation(
            "only a subscription's opening or period-end invoice is recalculated",
            details={"billing_reason": invoice.billing_reason},
        )
    return sub, periods.Period(invoice.period_start, invoice.period_end)


def _lines(
    session: Session, invoice: Invoice, sub: Subscription, period: periods.Period
) -> list[LineDraft]:
    ctx = usage_loader.load_context(session, sub, cycle.external_id(session, sub))
    if invoice.billing_reason == "SUBSCRIPTION_CREATE":
        return compute.advance_lines(ctx, period, opening=True)
    return compute.period_end_lines(usage_loader.SessionUsage(session), ctx, period)


def recalculate_draft(
    session: Session, principal: Principal, invoice_id: str, *, finalize: bool = True
) -> Invoice:
    invoice = invoices.locked_invoice(session, principal, invoice_id)
    if invoice.invoice_status != "DRAFT":
        raise InvalidOperation(
            f"Only a draft invoice is recalculated in place; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    sub, period = _subscription(session, invoice)
    now = utcnow()
    if invoice.billing_reason == "SUBSCRIPTION_CYCLE":
        cycle.refresh_draft(session, invoice, now=now, force=True)
    else:
        invoices.recompute_draft(session, invoice, _lines(session, invoice, sub, period), now)
    invoice.is_manually_edited = False
    invoice.updated_by = principal.user_id
    session.flush()
    if finalize:
        invoices.finalize(session, invoice, now=now)
    return invoice


def recalculate_voided(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    """The replacement of a voided subscription invoice (see the module docstring)."""
    invoice = invoices.locked_invoice(session, principal, invoice_id)
    if invoice.invoice_status != "VOIDED":
        raise InvalidOperation(
            f"Only a voided invoice is replaced; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    sub, period = _subscription(session, invoice)
    key = f"{invoice.billing_key or invoice.id}:recalculated"
    earlier = repository.by_billing_key(session, invoice.environment_id, key)
    if earlier is not None:
        return earlier
    now = utcnow()
    replacement = invoices.create_billing_invoice(
        session,
        environment_id=invoice.environment_id,
        customer_id=invoice.customer_id,
        subscription_id=sub.id,
        currency=invoice.currency,
        billing_reason=invoice.billing_reason,
        billing_key=key,
        period_start=period.start,
        period_end=period.end,
        lines=_lines(session, invoice, sub, period),
        now=now,
        billing_period=invoice.billing_period,
        metadata={"recalculated_from": invoice.id},
    )
    invoice.metadata_ = {**(invoice.metadata_ or {}), REPLACEMENT: replacement.id}
    invoice.version += 1
    session.flush()
    return replacement
