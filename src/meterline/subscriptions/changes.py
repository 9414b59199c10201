"""Plan changes: a subscription moved to another plan now, with proration.

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
from meterline.db.base import utcnow
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing.amounts import ZERO
from meterline.invoicing.models import Invoice
from meterline.invoicing.proration import billing_days
from meterline.kernel import calendar as periods
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.money import total
from meterline.pricing import repository as plan_repository
from meterline.pricing.charge_models import model_of_price, price_amount
from meterline.pricing.fields import choice
from meterline.pricing.models import Plan, Price
from meterline.pricing.plans import get_plan
from meterline.subscriptions import payouts, repository, service
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

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
    grace: timedelta,
) -> PlanChange:
    sub = repository.lock(session, service.get_subscription(session, principal, subscription_id))
    behaviour = choice(proration_behavior, service.PRORATION_BEHAVIORS, "proration_behavior")
    when = choice(change_at or "immediate", CHANGE_AT, "change_at")
    now = utcnow()
    check_changeable(sub, now)
    if sub.cancel_at is not None:
        raise InvalidOperation("a subscription with a scheduled cancellation cannot change plan")
    if when != "immediate":
        raise InvalidRequest(
            "change_at end_of_period is not supported yet; use immediate", field="change_at"
        )
    _check_cycle(sub, billing_period, billing_period_count, billing_cycle)
    target = get_plan(session, principal, target_plan_id)
    if target.status != "published":
        raise InvalidRequest("the target plan is archived", field="target_plan_id")
    if target.id == sub.plan_id:
        raise InvalidRequest("the subscription is already on this plan", field="target_plan_id")
    prices = service.matching_prices(
        plan_repository.active_prices(session, principal.environment_id, "PLAN", [target.id], now),
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
    # The change starts from the current period, whether or not the clock ran.
    service.bill_ended_periods(session, sub, now, now, grace)
    from_plan = get_plan(session, principal, sub.plan_id)
    old = [
        i
        for i in repository.line_items(session, [sub.id])
        if i.entity_type == "plan" and (i.end_date is None or i.end_date > now)
    ]
    old_prices = plan_repository.prices_by_id(session, [i.price_id for i in old])
    created = service.new_line_items(
        session, principal, sub, target, prices, _carried_quantities(old, prices), now, sub.end_date
    )
    new_prices = {p.id: p for p in prices}
    before, after = _recurring_amount(old, old_prices), _recurring_amount(created, new_prices)
    change_type = "upgrade" if after > before else "downgrade" if after < before else "lateral"
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
    period = periods.Period(sub.current_period_start, sub.current_period_end)
    return PlanChange(sub, from_plan, target, change_type, now, period, swap)
