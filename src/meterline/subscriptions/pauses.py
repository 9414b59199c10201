"""Pause and resume (immediate modes, as ``flexprice==2.1.43`` offers them).

A pause closes the current period at once: a closing invoice bills its ARREAR charges and
usage up to the pause and, with proration, credits the unused days of its ADVANCE charges
(as an immediate cancel does; a net credit goes to the wallet). While paused nothing is
billed (the clock skips paused subscriptions) and nothing is granted (entitlements read
live subscriptions only). A resume starts a new period at the resume instant (anniversary:
re-anchored there, as Stripe's resume with ``billing_cycle_anchor=now``; calendar: the
partial period to the next boundary, prorated) and bills its ADVANCE charges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing.amounts import ZERO
from meterline.invoicing.models import Invoice
from meterline.kernel import calendar as periods
from meterline.kernel.errors import InvalidOperation
from meterline.pricing.fields import choice
from meterline.subscriptions import payouts, repository, schedule_repository, service
from meterline.subscriptions.models import Subscription, SubscriptionPause
from meterline.webhooks import notify


@dataclass(frozen=True)
class PauseResult:
    subscription: Subscription
    pause: SubscriptionPause
    invoice: Invoice | None
    payout: payouts.Payout | None


def pauses_of(session: Session, subscription_id: str) -> list[SubscriptionPause]:
    """The subscription's pauses, oldest first."""
    return list(
        session.scalars(
            select(SubscriptionPause)
            .where(SubscriptionPause.subscription_id == subscription_id)
            .order_by(SubscriptionPause.pause_start, SubscriptionPause.id)
        )
    )


def pause(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    proration_behavior: str | None,
    reason: str | None,
    metadata: dict[str, str] | None,
    grace: timedelta,
) -> PauseResult:
    behaviour = choice(
        proration_behavior or "create_prorations",
        service.PRORATION_BEHAVIORS,
        "proration_behavior",
    )
    sub = repository.lock(session, service.get_subscription(session, principal, subscription_id))
    now = utcnow()
    status = service.effective_status(sub, now)
    if status != "active":
        raise InvalidOperation(
            f"only an active subscription can be paused (this one is {status})",
            details={"status": status},
        )
    if sub.cancel_at is not None:
        raise InvalidOperation("a subscription with a scheduled cancellation cannot be paused")
    service.bill_ended_periods(session, sub, now, now, grace)
    if schedule_repository.pending_for(session, [sub.id], "plan_change"):
        raise InvalidOperation(
            "a subscription with a plan change scheduled at its period's end cannot be paused:"
            " cancel the schedule first"
        )
    session.flush()
    invoice = invoice_billing.create_cancel_invoice(
        session,
        sub,
        cancelled_at=now,
        now=now,
        prorate=behaviour == "create_prorations",
        what=f"pause:{now.isoformat()}",
    )
    payout = None
    if invoice is not None:
        payout = payouts.pay_to_wallet(
            session,
            principal,
            customer_id=sub.customer_id,
            currency=sub.currency,
            amount=-min(invoice.subtotal, ZERO),
            key=f"{sub.id}:pause:{now.isoformat()}",
            description=f"Unused time of subscription {sub.id} (paused)",
        )
    record = SubscriptionPause(
        id=new_id("subs_pause"),
        environment_id=sub.environment_id,
        subscription_id=sub.id,
        pause_status="active",
        pause_mode="immediate",
        pause_start=now,
        original_period_start=sub.current_period_start,
        original_period_end=sub.current_period_end,
        reason=reason,
        metadata_=dict(metadata or {}),
        status="published",
    )
    session.add(record)
    sub.subscription_status = "paused"
    sub.version += 1
    sub.updated_at = now
    session.flush()
    notify.subscription_changed(session, sub, "subscription.paused")
    return PauseResult(sub, record, invoice, payout)


def resume(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    metadata: dict[str, str] | None,
) -> PauseResult:
    sub = repository.lock(session, service.get_subscription(session, principal, subscription_id))
    if sub.subscription_status != "paused":
        raise InvalidOperation(
            f"only a paused subscription can be resumed (this one is {sub.subscription_status})",
            details={"status": sub.subscription_status},
        )
    now = utcnow()
    active = [p for p in pauses_of(session, sub.id) if p.pause_status == "active"]
    record = active[-1]
    record.pause_status, record.resume_mode = "completed", "immediate"
    record.resumed_at = record.pause_end = now
    record.metadata_ = {**(record.metadata_ or {}), **(metadata or {})}
    anchor, first = periods.first_period(
        now,
        sub.billing_period,
        sub.billing_period_count,
        billing_cycle=sub.billing_cycle,
        timezone=sub.timezone,
    )
    end = min(first.end, sub.end_date) if sub.end_date is not None else first.end
    sub.billing_anchor = anchor
    sub.current_period_start, sub.current_period_end = first.start, end
    sub.subscription_status = "active"
    sub.version += 1
    sub.updated_at = now
    session.flush()
    invoice = invoice_billing.create_resume_invoice(session, sub, now=now)
    notify.subscription_changed(session, sub, "subscription.resumed")
    return PauseResult(sub, record, invoice, None)
