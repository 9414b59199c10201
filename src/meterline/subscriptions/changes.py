"""Plan changes: a subscription moved to another plan now, with proration, or at the end
of its current period (a schedule the billing clock applies: ``schedule_runs.py``).

The subscription keeps its id, period and anchor: its line items of the old plan end at the
change and line items of the target plan start there (upstream archives the subscription
and opens a new one; docs/billing.md). With ``create_prorations`` the change invoice
(``SUBSCRIPTION_UPDATE``) credits the unused days of the old ADVANCE charges and charges
the new ones for the rest of the period; a credit it cannot absorb goes to the wallet.
A preview is the execution rolled back (the API does it), so it is what the execution
bills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing.amounts import ZERO
from meterline.invoicing.lines import LineDraft
from meterline.invoicing.models import Invoice
from meterline.invoicing.proration import billing_days
from meterline.kernel import calendar as periods
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import total
from meterline.pricing import repository as plan_repository
from meterline.pricing.charge_models import model_of_price, price_amount
from meterline.pricing.fields import choice
from meterline.pricing.models import Plan, Price
from meterline.pricing.plans import get_plan
from meterline.subscriptions import (
    payouts,
    repository,
    schedule_repository,
    schedule_runs,
    service,
)
from meterline.subscriptions.models import (
    Subscription,
    SubscriptionLineItem,
    SubscriptionSchedule,
)
from meterline.webhooks import notify

CHANGE_AT = ("immediate", "end_of_period")
CHANGE_STATUSES = ("active", "trialing")


def _recurring_amount(items: list[SubscriptionLineItem], prices: dict[str, Price]) -> Decimal:
    """A whole period's fixed charges of ``items``: what an upgrade is told apart by."""
    amounts = [
        price_amount(model_of_price(prices[i.price_id]), i.quantity or Decimal(1))
        for i in items
        if i.price_type == "FIXED" and i.price_id in prices
        if prices[i.price_id].billing_period != "ONETIME"
    ]
    return total(amounts)


def _check_cycle(
    sub: Subscription,
    billing_period: str | None,
    billing_period_count: int | None,
    billing_cycle: str | None,
) -> None:
    """A change keeps the billing cycle: a request naming another one is refused."""
    for field, wanted, current in (
        ("billing_period", billing_period, sub.billing_period),
        ("billing_period_count", billing_period_count, sub.billing_period_count),
        ("billing_cycle", billing_cycle, sub.billing_cycle),
    ):
        if wanted is not None and wanted != current:
            raise InvalidRequest(
                f"a plan change keeps the subscription's {field} ({current}); changing it is"
                " not supported",
                field=field,
                details={"current_value": current, "provided_value": wanted},
            )


def _carried_quantities(old: list[SubscriptionLineItem], prices: list[Price]) -> dict[str, Decimal]:
    """Seats carry over when both plans have one recurring FIXED price each."""
    old_fixed = [i for i in old if i.price_type == "FIXED" and i.billing_period != "ONETIME"]
    new_fixed = [p for p in prices if p.type == "FIXED" and p.billing_period != "ONETIME"]
    if len(old_fixed) == 1 and len(new_fixed) == 1:
        return {new_fixed[0].id: old_fixed[0].quantity or Decimal(1)}
    return {}


def check_changeable(sub: Subscription, now: datetime) -> None:
    """Only a live subscription changes: not a cancelled, paused or draft one."""
    status = service.effective_status(sub, now)
    if status not in CHANGE_STATUSES:
        raise InvalidOperation(
            f"a {status} subscription cannot be changed", details={"status": status}
        )


@dataclass(frozen=True)
class Swap:
    """Line items ended and started at one instant, and what that billed."""

    ended: list[SubscriptionLineItem]
    created: list[SubscriptionLineItem]
    lines: invoice_billing.ChangeLines
    invoice: Invoice | None
    payout: payouts.Payout | None


def swap_items(
    session: Session,
    principal: Principal,
    sub: Subscription,
    ending: list[SubscriptionLineItem],
    created: list[SubscriptionLineItem],
    prices: dict[str, Price],
    *,
    prorate: bool,
    at: datetime,
    description: str,
) -> Swap:
    """Ends ``ending`` and starts ``created`` at ``at`` (in the current period, already
    closed up to it). With ``prorate`` (an active subscription), one change invoice credits
    the unused days of the ended ADVANCE charges and charges the new ones for the rest of
    the period (``cycle.change_lines``); a net credit goes to the wallet."""
    lines = invoice_billing.ChangeLines([], [])
    if prorate and sub.subscription_status == "active":
        lines = invoice_billing.change_lines(
            session, sub, at, created, prices, ending={i.id for i in ending}
        )
    for item in ending:
        item.end_date = at
    session.add_all(created)
    session.flush()
    invoice: Invoice | None = None
    payout: payouts.Payout | None = None
    if lines.lines:
        invoice = invoice_billing.create_change_invoice(session, sub, at, lines.lines, now=at)
        payout = payouts.pay_to_wallet(
            session,
            principal,
            customer_id=sub.customer_id,
            currency=sub.currency,
            amount=-min(invoice.subtotal, ZERO),
            key=f"{sub.id}:change:{at.isoformat()}",
            description=description,
        )
    return Swap(ending, created, lines, invoice, payout)


@dataclass(frozen=True)
class PlanChange:
    subscription: Subscription
    from_plan: Plan
    to_plan: Plan
    change_type: str  # upgrade | downgrade | lateral
    effective_at: datetime
    period: periods.Period
    swap: Swap
    # A change at the period's end: its schedule and the period-end invoice it leads to.
    schedule: SubscriptionSchedule | None = None
    period_end_lines: tuple[LineDraft, ...] = ()
    superseded: tuple[str, ...] = ()

    @property
    def is_scheduled(self) -> bool:
        return self.schedule is not None

    @property
    def ended(self) -> list[SubscriptionLineItem]:
        return self.swap.ended

    @property
    def created(self) -> list[SubscriptionLineItem]:
        return self.swap.created

    @property
    def lines(self) -> invoice_billing.ChangeLines:
        return self.swap.lines

    @property
    def invoice(self) -> Invoice | None:
        return self.swap.invoice

    @property
    def payout(self) -> payouts.Payout | None:
        return self.swap.payout

    @property
    def credit(self) -> Decimal:
        return -total(line.amount for line in self.lines.credits)

    @property
    def charge(self) -> Decimal:
        return total(line.amount for line in self.lines.charges)

    @property
    def days_remaining(self) -> int:
        return billing_days(self.effective_at, self.period.end, self.subscription.timezone)

    @property
    def days_used(self) -> int:
        return billing_days(self.period.start, self.effective_at, self.subscription.timezone)


ON_PENDING = ("reject", "supersede")


def _pending_changes(
    session: Session, sub: Subscription, on_pending: str | None, now: datetime
) -> list[str]:
    """A pending plan change blocks another change unless ``on_pending`` is ``supersede``:
    then it is cancelled (its staged line items undone) and its id returned."""
    policy = choice(on_pending or "reject", ON_PENDING, "on_conflict_policies.on_pending_schedule")
    pending = schedule_repository.pending_for(session, [sub.id], schedule_runs.PLAN_CHANGE)
    if pending and policy == "reject":
        first = pending[0]
        raise Conflict(
            f"a plan change is already scheduled ({first.id}, at"
            f" {first.scheduled_at.isoformat()}): cancel it, or send"
            " on_conflict_policies.on_pending_schedule supersede",
            details={"schedule_id": first.id, "scheduled_at": first.scheduled_at.isoformat()},
        )
    for found in pending:
        undo_staged(session, found, now, reason="superseded by a later plan change")
    return [found.id for found in pending]


def undo_staged(session: Session, found: SubscriptionSchedule, now: datetime, reason: str) -> None:
    """Cancels a pending plan change: its staged line items are removed and the old plan's
    line items run on as they did before it was scheduled."""
    config = found.configuration or {}
    ended: dict[str, str | None] = config.get("ended_items", {})
    staged = set(config.get("created_items", []))
    for item in repository.line_items(session, [found.subscription_id]):
        if item.id in staged:
            item.status = "deleted"
            item.end_date = item.start_date
        elif item.id in ended:
            before = ended[item.id]
            item.end_date = datetime.fromisoformat(before) if before else None
    found.schedule_status = "cancelled"
    found.cancelled_at = now
    found.error_message = reason
    session.flush()


def change_plan(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    target_plan_id: str,
    proration_behavior: str,
    change_at: str | None = None,
    billing_period: str | None = None,
    billing_period_count: int | None = None,
    billing_cycle: str | None = None,
    metadata: dict[str, str] | None = None,
    on_pending_schedule: str | None = None,
    grace: timedelta,
) -> PlanChange:
    """Moves the subscription to ``target_plan_id`` now (prorated per the behaviour) or,
    ``change_at`` ``end_of_period``, schedules the move at the end of the current period:
    the line items are staged now and the billing clock applies it (``schedule_runs``)."""
    sub = repository.lock(session, service.get_subscription(session, principal, subscription_id))
    behaviour = choice(proration_behavior, service.PRORATION_BEHAVIORS, "proration_behavior")
    when = choice(change_at or "immediate", CHANGE_AT, "change_at")
    now = utcnow()
    check_changeable(sub, now)
    if sub.cancel_at is not None:
        raise InvalidOperation("a subscription with a scheduled cancellation cannot change plan")
    _check_cycle(sub, billing_period, billing_period_count, billing_cycle)
    target = get_plan(session, principal, target_plan_id)
    if target.status != "published":
        raise InvalidRequest("the target plan is archived", field="target_plan_id")
    # The change starts from the current period, whether or not the clock ran (which may
    # apply a plan change that was due at its end).
    service.bill_ended_periods(session, sub, now, now, grace)
    superseded = _pending_changes(session, sub, on_pending_schedule, now)
    if target.id == sub.plan_id:
        raise InvalidRequest("the subscription is already on this plan", field="target_plan_id")
    at = now if when == "immediate" else sub.current_period_end
    if when == "end_of_period" and sub.end_date is not None and sub.end_date <= at:
        raise InvalidOperation(
            "the subscription ends with its current period: there is no period to change the"
            " plan for",
            details={"end_date": sub.end_date.isoformat()},
        )
    prices = service.matching_prices(
        plan_repository.active_prices(session, principal.environment_id, "PLAN", [target.id], at),
        sub.currency,
        sub.billing_period,
        sub.billing_period_count,
    )
    if not prices:
        raise InvalidRequest(
            "the target plan has no price in the subscription's currency and billing period",
            field="target_plan_id",
            details={"currency": sub.currency, "billing_period": sub.billing_period},
        )
    from_plan = get_plan(session, principal, sub.plan_id)
    old = [
        i
        for i in repository.line_items(session, [sub.id])
        if i.entity_type == "plan" and (i.end_date is None or i.end_date > at)
    ]
    old_prices = plan_repository.prices_by_id(session, [i.price_id for i in old])
    created = service.new_line_items(
        session, principal, sub, target, prices, _carried_quantities(old, prices), at, sub.end_date
    )
    new_prices = {p.id: p for p in prices}
    before, after = _recurring_amount(old, old_prices), _recurring_amount(created, new_prices)
    change_type = "upgrade" if after > before else "downgrade" if after < before else "lateral"
    period = periods.Period(sub.current_period_start, sub.current_period_end)
    if when == "end_of_period":
        return _schedule_at_period_end(
            session,
            sub,
            from_plan,
            target,
            change_type,
            old,
            created,
            behaviour,
            metadata,
            superseded,
            now,
        )
    swap = swap_items(
        session,
        principal,
        sub,
        old,
        created,
        new_prices,
        prorate=behaviour == "create_prorations",
        at=now,
        description=f"Unused time of subscription {sub.id} on plan {from_plan.id}",
    )
    sub.plan_id = target.id
    sub.metadata_ = {**(sub.metadata_ or {}), **(metadata or {})}
    sub.version += 1
    sub.updated_at = now
    session.flush()
    notify.subscription_changed(session, sub, "subscription.plan_changed")
    return PlanChange(
        sub, from_plan, target, change_type, now, period, swap, superseded=tuple(superseded)
    )


def _schedule_at_period_end(
    session: Session,
    sub: Subscription,
    from_plan: Plan,
    target: Plan,
    change_type: str,
    old: list[SubscriptionLineItem],
    created: list[SubscriptionLineItem],
    behaviour: str,
    metadata: dict[str, str] | None,
    superseded: list[str],
    now: datetime,
) -> PlanChange:
    """Stages the change at the period's end and records it as a pending schedule; the
    change's "invoice" is the period-end invoice the clock will write (what it bills from
    these line items, with the usage known now)."""
    boundary = sub.current_period_end
    ended = {i.id: i.end_date.isoformat() if i.end_date else None for i in old}
    for item in old:
        item.end_date = boundary
    session.add_all(created)
    schedule = SubscriptionSchedule(
        id=new_id("sched"),
        environment_id=sub.environment_id,
        subscription_id=sub.id,
        schedule_type=schedule_runs.PLAN_CHANGE,
        schedule_status="pending",
        scheduled_at=boundary,
        configuration={
            "target_plan_id": target.id,
            "from_plan_id": from_plan.id,
            "change_type": change_type,
            "proration_behavior": behaviour,
            "billing_period_behaviour": "unchanged",
            "ended_items": ended,
            "created_items": [i.id for i in created],
        },
        execution_result={},
        metadata_=dict(metadata or {}),
        status="published",
    )
    session.add(schedule)
    sub.metadata_ = {**(sub.metadata_ or {}), **(metadata or {})}
    sub.version += 1
    sub.updated_at = now
    session.flush()
    lines = invoice_billing.preview(session, sub).lines
    period = periods.Period(sub.current_period_start, sub.current_period_end)
    swap = Swap(old, created, invoice_billing.ChangeLines([], []), None, None)
    return PlanChange(
        sub,
        from_plan,
        target,
        change_type,
        boundary,
        period,
        swap,
        schedule=schedule,
        period_end_lines=tuple(lines),
        superseded=tuple(superseded),
    )
