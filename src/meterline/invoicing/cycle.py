"""Invoices of subscriptions: opening, period-end (the billing clock), cancel, preview.

Exactly once: each invoice carries a ``billing_key`` naming what it bills —
``<subscription>:open``, ``<subscription>:period:<period start>``,
``<subscription>:cancel`` — unique per environment. The period-end invoice is written in
the same transaction that advances the subscription's period, so a crash either leaves
both undone (the next run redoes them) or both done (the next run finds nothing due).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.invoicing import compute, failures, repository, usage_loader
from meterline.invoicing.amounts import ZERO, invoice_totals
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.invoicing.numbering import format_number, number_period
from meterline.invoicing.proration import prorate_cancel
from meterline.invoicing.service import (
    LineDraft,
    create_billing_invoice,
    finalize,
    line_item,
    recompute_draft,
)
from meterline.kernel import calendar as periods
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.kernel.money import minor_units, round_money
from meterline.payments import repository as payment_rows
from meterline.pricing.models import Price
from meterline.subscriptions import schedule_runs
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.wallets import repository as wallet_repository
from meterline.webhooks import notify

DEFAULT_GRACE = timedelta(hours=1)


def external_id(session: Session, sub: Subscription) -> str:
    """The external id of ``sub``'s customer: what its usage events name."""
    customer = existing(repository.customer(session, sub.customer_id), "customer", sub.customer_id)
    return str(customer.external_id)


def _key(sub: Subscription, what: str) -> str:
    return f"{sub.id}:{what}"


def create_opening_invoice(
    session: Session, sub: Subscription, *, now: datetime | None = None
) -> Invoice | None:
    """The first period's ADVANCE charges (billing reason SUBSCRIPTION_CREATE); None when the
    plan has no ADVANCE charge. Call it in the transaction that creates the subscription."""
    now = now or utcnow()
    key = _key(sub, "open")
    existing = repository.by_billing_key(session, sub.environment_id, key)
    if existing is not None:
        return existing
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    lines = compute.opening_lines(ctx)
    if not lines:
        return None
    return _bill(
        session,
        sub,
        "SUBSCRIPTION_CREATE",
        key,
        sub.current_period_start,
        sub.current_period_end,
        lines,
        now=now,
    )


def _bill(
    session: Session,
    sub: Subscription,
    reason: str,
    key: str,
    period_start: datetime,
    period_end: datetime,
    lines: Sequence[LineDraft],
    *,
    now: datetime,
    finalize_after: datetime | None = None,
    flush: bool = True,
) -> Invoice:
    """A DRAFT invoice of ``sub`` (its customer, currency and billing period) for
    ``reason``, billed once under ``key``."""
    return create_billing_invoice(
        session,
        environment_id=sub.environment_id,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=sub.currency,
        billing_reason=reason,
        billing_key=key,
        period_start=period_start,
        period_end=period_end,
        lines=lines,
        now=now,
        finalize_after=finalize_after,
        billing_period=sub.billing_period,
        flush=flush,
    )


@dataclass(frozen=True)
class PeriodClose:
    subscription_id: str
    invoice: Invoice | None
    advanced_to: periods.Period | None


def close_period(
    session: Session, sub: Subscription, *, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> PeriodClose:
    """Bills the ended period of ``sub`` and moves it to the next period (or ends it); see
    :func:`close_periods`."""
    return close_periods(session, [sub], now=now, grace=grace)[0]


def close_periods(
    session: Session,
    subs: Sequence[Subscription],
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> list[PeriodClose]:
    """Bills the ended period of each subscription and moves it to the next period (or
    ends it), all in the caller's transaction.

    Applies ``cancel_at``/``end_date`` (the subscription is cancelled when no period
    follows) and trials (a trial that ended by the period end makes it active). An invoice
    whose grace period is already over at ``now`` is finalized at once — recomputing it
    later would read the same events — so a catch-up run writes each invoice once. Reads
    are batched: the contexts of all subscriptions in a few queries, one wallet lookup and
    one block of invoice numbers per environment.
    """
    if not subs:
        return []
    # A plan change due at a period's end: the old plan's items end at the boundary before
    # the lines are computed; the plan moves once the period is billed (schedule_runs).
    due_changes = schedule_runs.before_close(session, subs)
    external_ids = repository.external_ids(session, sorted({s.customer_id for s in subs}))
    missing = next((s.customer_id for s in subs if s.customer_id not in external_ids), None)
    if missing is not None:
        raise NotFound("customer", missing)
    contexts = usage_loader.load_contexts(session, subs, external_ids)
    usage = usage_loader.SessionUsage(
        session, usage_loader.current_meters(session, contexts.values())
    )
    closed: list[PeriodClose] = []
    due_now: list[Invoice] = []
    for sub in subs:
        period = periods.Period(sub.current_period_start, sub.current_period_end)
        lines = compute.period_end_lines(usage, contexts[sub.id], period)
        following = compute.next_period(sub, period)
        finalize_after = max(now, period.end + grace)
        invoice = _bill(
            session,
            sub,
            "SUBSCRIPTION_CYCLE",
            _key(sub, f"period:{period.start.isoformat()}"),
            period.start,
            period.end,
            lines,
            now=now,
            finalize_after=finalize_after,
            flush=False,
        )
        if period.end + grace <= now:
            invoice.metadata_ = {**invoice.metadata_, "usage_cut_off": now.isoformat()}
            due_now.append(invoice)
        if following is None:
            sub.subscription_status = "cancelled"
            sub.cancelled_at = sub.cancelled_at or period.end
        else:
            sub.current_period_start, sub.current_period_end = following.start, following.end
            if sub.subscription_status == "trialing" and (
                sub.trial_end is None or sub.trial_end <= following.start
            ):
                sub.subscription_status = "active"
        sub.version += 1
        closed.append(PeriodClose(sub.id, invoice, following))
    session.flush()
    for close in closed:  # as drafts, before any of them is finalized below
        if close.invoice is not None:
            notify.invoice_drafted(session, close.invoice)
    if due_changes:
        continues = {c.subscription_id: c.advanced_to is not None for c in closed}
        schedule_runs.after_close(session, due_changes, subs, continues, now)
    _finalize_batch(session, due_now, now)
    failures.resolve_periods(session, [s.id for s in subs], now)
    session.flush()
    return closed


def close_ended_periods(
    session: Session,
    sub: Subscription,
    *,
    until: datetime,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> list[PeriodClose]:
    """Closes, as the billing clock would, every period of ``sub`` that ended by ``until``
    (in the caller's transaction): used before a change that must start from the current
    period, such as an immediate cancellation made before the clock ran."""
    closed: list[PeriodClose] = []
    while sub.subscription_status in ("active", "trialing") and sub.current_period_end <= until:
        closed.append(close_period(session, sub, now=now, grace=grace))
    return closed


def _finalize_batch(session: Session, invoices: Sequence[Invoice], now: datetime) -> None:
    period = number_period(now)
    for environment_id in sorted({i.environment_id for i in invoices}):
        batch = [i for i in invoices if i.environment_id == environment_id]
        customer_ids = sorted({i.customer_id for i in batch})
        with_wallets = wallet_repository.customers_with_active_wallets(
            session, environment_id, customer_ids
        )
        holding = payment_rows.customers_with_held_credit(session, environment_id, customer_ids)
        first = repository.take_numbers(session, environment_id, period, len(batch))
        for offset, invoice in enumerate(batch):
            finalize(
                session,
                invoice,
                now=now,
                number=format_number(period, first + offset),
                check_wallets=(invoice.customer_id, invoice.currency) in with_wallets,
                check_held_credit=(invoice.customer_id, invoice.currency) in holding,
            )


def refresh_draft(
    session: Session, invoice: Invoice, *, now: datetime, force: bool = False
) -> Invoice:
    """Recomputes a period-end DRAFT from the events stored now (late events). A draft
    whose lines were edited by hand keeps them unless ``force`` (invoicing.edits)."""
    if invoice.subscription_id is None or invoice.billing_reason != "SUBSCRIPTION_CYCLE":
        return invoice
    if invoice.is_manually_edited and not force:
        return invoice
    sub = session.get(Subscription, invoice.subscription_id)
    if sub is None or invoice.period_start is None or invoice.period_end is None:
        return invoice
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    period = periods.Period(invoice.period_start, invoice.period_end)
    arrear = compute.arrear_lines(usage_loader.SessionUsage(session), ctx, period)
    kept_advance = [
        line
        for line in repository.lines_of(session, [invoice.id])[invoice.id]
        if line.price_type == "FIXED" and (line.metadata_ or {}).get("invoice_cadence") == "ADVANCE"
    ]
    advance = [
        LineDraft(
            amount=line.amount,
            quantity=line.quantity,
            display_name=line.display_name,
            price_id=line.price_id,
            price_type=line.price_type,
            entity_id=line.entity_id,
            entity_type=line.entity_type,
            plan_display_name=line.plan_display_name,
            subscription_line_item_id=line.subscription_line_item_id,
            price_unit=line.price_unit,
            period_start=line.period_start,
            period_end=line.period_end,
            metadata=dict(line.metadata_ or {}),
        )
        for line in kept_advance
    ]
    return recompute_draft(session, invoice, arrear + advance, now)


def finalize_due(session: Session, invoice: Invoice, *, now: datetime) -> Invoice:
    """The clock's finalization: recompute with late events, note the cut-off, finalize."""
    refresh_draft(session, invoice, now=now)
    invoice.metadata_ = {**(invoice.metadata_ or {}), "usage_cut_off": now.isoformat()}
    finalize(session, invoice, now=now)
    failures.resolve_invoice(session, invoice.id, now)
    return invoice


def billed_in_period(
    session: Session, sub: Subscription, period: periods.Period
) -> dict[str, tuple[Decimal, Decimal]]:
    """``(charged, credited)`` of each line item's FIXED lines in ``period`` on the
    subscription's invoices that are not voided: what a credit for unused time is capped by
    (credited ≥ 0)."""
    rows = session.execute(
        select(InvoiceLineItem.subscription_line_item_id, InvoiceLineItem.amount)
        .join(Invoice, Invoice.id == InvoiceLineItem.invoice_id)
        .where(
            Invoice.subscription_id == sub.id,
            Invoice.invoice_status != "VOIDED",
            InvoiceLineItem.price_type == "FIXED",
            InvoiceLineItem.subscription_line_item_id.is_not(None),
            InvoiceLineItem.period_start >= period.start,
            InvoiceLineItem.period_start < period.end,
        )
    ).all()
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for item_id, amount in rows:
        if item_id is None:  # filtered out by the query; for the type checker
            continue
        charged, credited = out.get(item_id, (ZERO, ZERO))
        if amount >= 0:
            out[item_id] = (charged + amount, credited)
        else:
            out[item_id] = (charged, credited - amount)
    return out


def cancel_credit_lines(
    session: Session,
    ctx: compute.Context,
    cancelled_at: datetime,
    only: Collection[str] | None = None,
) -> list[LineDraft]:
    """The (negative) credit lines for the unused days after ``cancelled_at`` of the
    current period's ADVANCE charges: the whole period's charge × its days left
    (``proration``), capped at what this period's invoices charged for the line item less
    what they already credited; ``only``: of these line items alone. Read before the line
    items are ended."""
    sub = ctx.subscription
    current = periods.Period(sub.current_period_start, sub.current_period_end)
    full = compute.full_period(sub, current)
    billed = billed_in_period(session, sub, current)
    ended = {i.id for i in ctx.items if i.end_date is not None and i.end_date <= cancelled_at}
    lines = []
    for line in compute.advance_lines(ctx, full, opening=False, prorated=False):
        item_id = line.subscription_line_item_id
        if item_id is None or item_id in ended or (only is not None and item_id not in only):
            continue
        paid, prior = billed.get(item_id, (ZERO, ZERO))
        credit = prorate_cancel(
            period_start=full.start,
            period_end=full.end,
            cancel_date=max(cancelled_at, current.start),
            currency=sub.currency,
            amount=line.amount,
            paid=paid,
            prior_credits=prior,
            timezone=sub.timezone or "UTC",
        )
        if credit < 0:
            lines.append(
                LineDraft(
                    amount=credit,
                    quantity=line.quantity,
                    display_name=f"{line.display_name or 'Fixed charge'} (proration credit)",
                    price_id=line.price_id,
                    price_type="FIXED",
                    entity_id=line.entity_id,
                    entity_type=line.entity_type,
                    plan_display_name=line.plan_display_name,
                    subscription_line_item_id=line.subscription_line_item_id,
                    period_start=max(cancelled_at, current.start),
                    period_end=current.end,
                    metadata={"proration": "credit"},
                )
            )
    return lines


def cancel_credits(session: Session, sub: Subscription, cancelled_at: datetime) -> list[LineDraft]:
    """:func:`cancel_credit_lines` of ``sub`` when no invoice is written (policy ``skip``)."""
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    return cancel_credit_lines(session, ctx, cancelled_at)


def create_cancel_invoice(
    session: Session,
    sub: Subscription,
    *,
    cancelled_at: datetime,
    now: datetime | None = None,
    prorate: bool = True,
    what: str = "cancel",
) -> Invoice | None:
    """The final invoice of an immediate cancellation (policy ``generate_invoice``): the
    ARREAR charges of ``[period start, cancelled_at)`` and (``prorate``) the credits for the
    unused days of the ADVANCE charges (:func:`cancel_credit_lines`). A credit the invoice
    cannot absorb is the caller's to pay out (the subscription service: to the wallet).
    ``what`` names it in its billing key (a pause closes the period the same way)."""
    now = now or utcnow()
    key = _key(sub, what)
    existing = repository.by_billing_key(session, sub.environment_id, key)
    if existing is not None:
        return existing
    start = sub.current_period_start
    end = max(cancelled_at, start)
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    lines = (
        compute.arrear_lines(usage_loader.SessionUsage(session), ctx, periods.Period(start, end))
        if end > start
        else []
    )
    if prorate:
        lines += cancel_credit_lines(session, ctx, cancelled_at)
    return _bill(
        session,
        sub,
        "SUBSCRIPTION_UPDATE",
        key,
        start,
        end,
        lines,
        now=now,
    )


def create_resume_invoice(session: Session, sub: Subscription, *, now: datetime) -> Invoice | None:
    """The ADVANCE charges of the period a resumed subscription starts (``SUBSCRIPTION_UPDATE``,
    billed once per resume); None when it has none. ONETIME charges are not billed again."""
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    period = periods.Period(sub.current_period_start, sub.current_period_end)
    lines = compute.advance_lines(ctx, period, opening=False)
    if not lines:
        return None
    key = _key(sub, f"resume:{period.start.isoformat()}")
    return _bill(session, sub, "SUBSCRIPTION_UPDATE", key, period.start, period.end, lines, now=now)


@dataclass(frozen=True)
class ChangeLines:
    credits: list[LineDraft]  # ≤ 0: the unused days of the old line items' ADVANCE charges
    charges: list[LineDraft]  # ≥ 0: the new line items' charges for the rest of the period

    @property
    def lines(self) -> list[LineDraft]:
        return [*self.credits, *self.charges]


def change_lines(
    session: Session,
    sub: Subscription,
    at: datetime,
    new_items: Sequence[SubscriptionLineItem],
    new_prices: dict[str, Price],
    *,
    ending: Collection[str],
) -> ChangeLines:
    """What a change at ``at`` within the current period bills, before it is applied: the
    ``ending`` line items' credits as an immediate cancel at ``at`` gives them
    (:func:`cancel_credit_lines`), and the new items' ADVANCE charges (ONETIME ones too)
    for their part of the period, each a share of its whole-period amount (``proration``)."""
    customer = external_id(session, sub)
    ctx = usage_loader.load_context(session, sub, customer)
    credit_lines = cancel_credit_lines(session, ctx, at, ending)
    new_ctx = compute.Context(sub, customer, list(new_items), new_prices, {}, {})
    current = periods.Period(sub.current_period_start, sub.current_period_end)
    charges = compute.advance_lines(new_ctx, current, opening=True)
    for line in charges:
        # Rounded here, as stored: the change's totals are the invoice's, to the cent.
        line.amount = round_money(line.amount, minor_units(sub.currency))
        line.metadata = {**line.metadata, "proration": "charge"}
    return ChangeLines(credit_lines, charges)


def create_change_invoice(
    session: Session,
    sub: Subscription,
    at: datetime,
    lines: Sequence[LineDraft],
    *,
    now: datetime,
    what: str | None = None,
) -> Invoice:
    """The invoice of a change at ``at`` (``SUBSCRIPTION_UPDATE``), billed once per instant,
    or once per ``what`` when given (an add-on added or removed: ``addon:<id>:add``)."""
    return _bill(
        session,
        sub,
        "SUBSCRIPTION_UPDATE",
        _key(sub, what or f"change:{at.isoformat()}"),
        at,
        sub.current_period_end,
        lines,
        now=now,
    )


@dataclass(frozen=True)
class Preview:
    subscription: Subscription
    period: periods.Period
    lines: list[LineDraft]


def preview(
    session: Session,
    sub: Subscription,
    *,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> Preview:
    """The current period's ARREAR charges plus the next period's ADVANCE charges."""
    start = period_start or sub.current_period_start
    end = period_end or sub.current_period_end
    if end <= start:
        raise InvalidRequest("period_end must be after period_start", field="period_end")
    period = periods.Period(start, end)
    ctx = usage_loader.load_context(session, sub, external_id(session, sub))
    arrear, advance = compute.preview_lines(usage_loader.SessionUsage(session), ctx, period)
    return Preview(sub, period, [*arrear, *advance])


def preview_invoice(
    session: Session,
    sub: Subscription,
    *,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    hide_zero_lines: bool = False,
) -> tuple[Invoice, list[InvoiceLineItem]]:
    """An unsaved invoice (and lines) showing what the subscription would be billed."""
    result = preview(session, sub, period_start=period_start, period_end=period_end)
    now = utcnow()
    drafts = [d for d in result.lines if not (hide_zero_lines and d.amount == 0)]
    totals = invoice_totals([d.amount for d in drafts], sub.currency)
    invoice = Invoice(
        id="",
        environment_id=sub.environment_id,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        invoice_type="SUBSCRIPTION",
        invoice_status="DRAFT",
        payment_status="PENDING",
        currency=sub.currency,
        subtotal=totals.subtotal,
        total=totals.total,
        amount_due=totals.amount_due,
        amount_paid=ZERO,
        amount_remaining=totals.amount_remaining,
        total_discount=ZERO,
        total_tax=ZERO,
        inclusive_tax=ZERO,
        total_prepaid_credits_applied=ZERO,
        adjustment_amount=ZERO,
        refunded_amount=ZERO,
        billing_reason="SUBSCRIPTION_CYCLE",
        billing_period=sub.billing_period,
        period_start=result.period.start,
        period_end=result.period.end,
        due_date=result.period.end + timedelta(days=1),
        last_computed_at=now,
        metadata_={},
        is_manually_edited=False,
        version=1,
        status="published",
    )
    lines = [line_item(invoice, index, d) for index, d in enumerate(drafts)]
    for line in lines:
        line.id = ""  # unsaved, as the invoice is
    return invoice, lines
