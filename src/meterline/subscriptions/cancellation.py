"""Cancelling a subscription: now (billing what ended, crediting the unused time to the
cancel invoice or the wallet), at the end of its period, or on a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing import repository as invoice_repository
from meterline.invoicing.lines import LineDraft
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.money import total
from meterline.pricing.fields import choice
from meterline.subscriptions import payouts, repository, schedule_repository
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.service import (
    PRORATION_BEHAVIORS,
    bill_ended_periods,
    effective_period,
    effective_status,
    get_subscription,
)
from meterline.webhooks import notify

CANCELLATION_TYPES = ("immediate", "end_of_period", "scheduled_date")
INVOICE_POLICIES = ("generate_invoice", "skip")


@dataclass(frozen=True)
class Cancellation:
    subscription: Subscription
    cancellation_type: str
    effective_date: datetime
    invoice_policy: str
    reason: str | None
    invoice: Invoice | None = None  # the cancel invoice (policy generate_invoice)
    credit_lines: tuple[LineDraft, ...] = ()  # the proration credits (invoiced or not)
    payout: payouts.Payout | None = None  # what of them went to the wallet


def cancel_subscription(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    cancellation_type: str,
    cancel_at: datetime | None = None,
    invoice_policy: str | None = None,
    reason: str | None = None,
    proration_behavior: str | None = None,
    grace: timedelta,
) -> Cancellation:
    # Locked: a billing clock closing it, or another cancellation, is waited for.
    sub = repository.lock(session, get_subscription(session, principal, subscription_id))
    kind = choice(cancellation_type, CANCELLATION_TYPES, "cancellation_type")
    policy = choice(invoice_policy or "skip", INVOICE_POLICIES, "cancel_immediately_invoice_policy")
    behaviour = (
        None
        if proration_behavior is None
        else choice(proration_behavior, PRORATION_BEHAVIORS, "proration_behavior")
    )
    now = utcnow()
    invoice: Invoice | None = None
    credit_lines: list[LineDraft] = []
    payout: payouts.Payout | None = None
    if effective_status(sub, now) == "cancelled":
        raise InvalidOperation("the subscription is already cancelled")
    if kind != "immediate" and sub.cancel_at is not None:
        raise InvalidOperation("the subscription already has a scheduled cancellation")
    # A paused subscription's period was closed by the pause: nothing is left to bill.
    billed_already = sub.subscription_status == "paused"
    if kind == "immediate":
        when = cancel_at or now
        if when > now:
            raise InvalidRequest(
                "an immediate cancellation cannot be in the future", field="cancel_at"
            )
        if when < sub.start_date:
            raise InvalidRequest(
                "cancel_at must not be before the subscription started", field="cancel_at"
            )
        bill_ended_periods(session, sub, when, now, grace)
        sub.subscription_status = "cancelled"
        sub.cancelled_at = now
        sub.cancel_at = when
        sub.end_date = when
        if policy == "generate_invoice" and not billed_already:
            # Before the line items close: the credit is for what they were invoiced in
            # advance this period, and an item ending at the period's start (a cancel at the
            # start instant) would no longer count as active in it.
            session.flush()
            invoice = invoice_billing.create_cancel_invoice(
                session, sub, cancelled_at=when, now=now, prorate=behaviour != "none"
            )
            if invoice is not None:
                lines = invoice_repository.lines_of(session, [invoice.id])[invoice.id]
                credit_lines = [_draft(line) for line in lines if _is_credit(line)]
                leftover = -min(invoice.subtotal, Decimal(0))
                payout = _pay_out(session, principal, sub, leftover)
        elif behaviour == "create_prorations" and not billed_already:
            # No invoice to net them against: every credit goes to the wallet.
            session.flush()
            credit_lines = invoice_billing.cancel_credits(session, sub, when)
            payout = _pay_out(session, principal, sub, -total(c.amount for c in credit_lines))
        for item in repository.line_items(session, [sub.id]):
            if item.end_date is None or item.end_date > when:
                item.end_date = when
        # A plan change that was to start at the period's end never will.
        for pending in schedule_repository.pending_for(session, [sub.id]):
            pending.schedule_status = "cancelled"
            pending.cancelled_at = now
            pending.error_message = "the subscription was cancelled"
    elif kind == "end_of_period":
        when = effective_period(sub, now).end
        sub.cancel_at = when
        sub.cancel_at_period_end = True
    else:
        if cancel_at is None:
            raise InvalidRequest("cancel_at is required for scheduled_date", field="cancel_at")
        if cancel_at <= now:
            raise InvalidRequest("cancel_at must be in the future", field="cancel_at")
        when = cancel_at
        sub.cancel_at = when
    sub.version += 1
    sub.updated_at = now
    session.flush()
    notify.subscription_cancelled(session, sub)
    return Cancellation(sub, kind, when, policy, reason, invoice, tuple(credit_lines), payout)


def _is_credit(line: InvoiceLineItem) -> bool:
    return (line.metadata_ or {}).get("proration") == "credit"


def _draft(line: InvoiceLineItem) -> LineDraft:
    return LineDraft(
        amount=line.amount,
        quantity=line.quantity,
        display_name=line.display_name,
        price_id=line.price_id,
        price_type=line.price_type,
        subscription_line_item_id=line.subscription_line_item_id,
        period_start=line.period_start,
        period_end=line.period_end,
        metadata=dict(line.metadata_ or {}),
    )


def _pay_out(
    session: Session, principal: Principal, sub: Subscription, amount: Decimal
) -> payouts.Payout | None:
    return payouts.pay_to_wallet(
        session,
        principal,
        customer_id=sub.customer_id,
        currency=sub.currency,
        amount=amount,
        key=f"{sub.id}:cancel",
        description=f"Unused time of subscription {sub.id}",
    )
