"""Subscriptions: a customer on a plan, billed in periods.

Line items are the plan's active prices whose currency matches the subscription's and whose
billing period (and count) equals it, plus ONETIME prices. Periods are computed by
``periods.py`` in the customer's time zone. A subscription's stored current period is rolled
forward lazily by whoever reads it (:func:`effective_period`); the billing clock persists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import service as catalog
from meterline.catalog.models import Meter
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing import failures
from meterline.invoicing.usage_loader import priced_event_values
from meterline.kernel import calendar as periods
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import minor_units, round_money, total
from meterline.metering.service import meter_usage
from meterline.pricing import repository as plan_repository
from meterline.pricing.charge_models import events_amount, model_of_price, price_amount
from meterline.pricing.display import display_amount
from meterline.pricing.fields import choice, currency_of
from meterline.pricing.models import Plan, Price
from meterline.pricing.plans import get_plan
from meterline.subscriptions import repository
from meterline.subscriptions.commands import CreateSubscription, SubscriptionChanges
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.subscriptions.quantities import override_quantities
from meterline.webhooks import notify

SUBSCRIPTION_STATUSES = ("active", "paused", "cancelled", "incomplete", "trialing", "draft")
PRORATION_BEHAVIORS = ("create_prorations", "none")
CREATE_STATUSES = ("active", "draft")
# Bounds of a subscription (docs/billing.md). A start in the past is billed period by
# period by the next clock run, so back-dating is for recent history only; a start far
# ahead is a typo; a period longer than 12 billing periods is not a billing cycle.
MAX_BACKDATE = timedelta(days=366)
MAX_START_AHEAD = timedelta(days=5 * 366)
MAX_BILLING_PERIOD_COUNT = 12


# The customer named by id or external id, as ``api/flexprice/entitlements.py`` calls it here.
resolve_customer = customers.resolve_customer


def get_subscription(session: Session, principal: Principal, subscription_id: str) -> Subscription:
    sub = repository.subscription(session, principal.environment_id, subscription_id)
    return existing(sub, "subscription", subscription_id)


def effective_status(sub: Subscription, now: datetime) -> str:
    """The status at ``now``: a scheduled cancellation or an ended trial takes effect."""
    status = sub.subscription_status
    if status in ("active", "trialing") and sub.cancel_at is not None and sub.cancel_at <= now:
        return "cancelled"
    if status in ("active", "trialing") and sub.end_date is not None and sub.end_date <= now:
        return "cancelled"
    if status == "trialing" and sub.trial_end is not None and sub.trial_end <= now:
        return "active"
    return status


def effective_period(sub: Subscription, now: datetime) -> periods.Period:
    """The billing period holding ``now`` (the stored one, rolled forward if it has ended)."""
    period = periods.current_period(
        sub.current_period_start,
        sub.current_period_end,
        sub.billing_anchor,
        sub.billing_period,
        sub.billing_period_count,
        now,
        sub.timezone,
    )
    if sub.end_date is not None and period.end > sub.end_date:
        return periods.Period(period.start, max(sub.end_date, period.start))
    return period


def matching_prices(prices: Sequence[Price], currency: str, period: str, count: int) -> list[Price]:
    return [
        p
        for p in prices
        if p.currency.lower() == currency
        and (
            p.billing_period == "ONETIME"
            or (p.billing_period == period and p.billing_period_count == count)
        )
    ]


def create_subscription(
    session: Session, principal: Principal, data: CreateSubscription
) -> Subscription:
    customer = customers.resolve_customer(
        session, principal, data.customer_id, data.external_customer_id
    )
    if customer.status != "published":
        raise InvalidRequest("the customer is archived", field="customer_id")
    plan_id = data.plan_id
    if not plan_id:
        raise InvalidRequest("plan_id is required", field="plan_id")
    plan = get_plan(session, principal, plan_id)
    if plan.status != "published":
        raise InvalidRequest("the plan is archived", field="plan_id")
    currency = currency_of(data.currency).lower()
    period = choice(data.billing_period, periods.BILLING_PERIODS, "billing_period")
    count = data.billing_period_count or 1
    if count < 1:
        raise InvalidRequest(
            "billing_period_count must be at least 1", field="billing_period_count"
        )
    if count > MAX_BILLING_PERIOD_COUNT:
        raise InvalidRequest(
            f"billing_period_count must be at most {MAX_BILLING_PERIOD_COUNT}",
            field="billing_period_count",
        )
    cycle = choice(data.billing_cycle or "anniversary", periods.BILLING_CYCLES, "billing_cycle")
    anchor_in = data.billing_anchor
    if anchor_in is not None and cycle != "anniversary":
        raise InvalidRequest(
            "billing_anchor is only for anniversary billing", field="billing_anchor"
        )
    now = utcnow()
    start = data.start_date or now
    check_start(start, now, "start_date")
    end = data.end_date
    if end is not None and end <= start:
        raise InvalidRequest("end_date must be after start_date", field="end_date")
    if anchor_in is not None and anchor_in < start - timedelta(days=400):
        raise InvalidRequest("billing_anchor is too far before start_date", field="billing_anchor")
    status = choice(data.subscription_status or "active", CREATE_STATUSES, "subscription_status")
    trial_days = data.trial_period_days
    if trial_days is not None and trial_days < 0:
        raise InvalidRequest("trial_period_days must not be negative", field="trial_period_days")
    prices = matching_prices(
        plan_repository.active_prices(session, principal.environment_id, "PLAN", [plan.id], start),
        currency,
        period,
        count,
    )
    if not prices:
        raise InvalidRequest(
            "no valid prices found for subscription: the plan has no price in this currency and billing period",
            field="plan_id",
        )
    quantities = override_quantities(prices, data.quantities)
    if trial_days is None:
        trial_days = max((p.trial_period_days for p in prices if p.type == "FIXED"), default=0)
    timezone = customer.timezone or "UTC"
    anchor, first = periods.first_period(
        start, period, count, billing_cycle=cycle, billing_anchor=anchor_in, timezone=timezone
    )
    sub = Subscription(
        id=new_id("subs"),
        environment_id=principal.environment_id,
        customer_id=customer.id,
        plan_id=plan.id,
        lookup_key=data.lookup_key,
        subscription_status=status,
        currency=currency,
        billing_cycle=cycle,
        billing_period=period,
        billing_period_count=count,
        billing_anchor=anchor,
        start_date=start,
        end_date=end,
        current_period_start=first.start,
        current_period_end=min(first.end, end) if end else first.end,
        cancel_at_period_end=False,
        timezone=timezone,
        metadata_=dict(data.metadata or {}),
        version=1,
    )
    if trial_days and status == "active":
        sub.subscription_status = "trialing"
        sub.trial_start = start
        sub.trial_end = start + timedelta(days=trial_days)
    session.add(sub)
    session.flush()
    session.add_all(new_line_items(session, principal, sub, plan, prices, quantities, start, end))
    session.flush()
    if sub.subscription_status == "active":
        # The opening invoice (ADVANCE charges) is part of the creating transaction.
        invoice_billing.create_opening_invoice(session, sub)
    notify.subscription_created(session, sub)
    if sub.subscription_status == "draft":
        notify.subscription_changed(session, sub, "subscription.draft.created")
    return sub


def new_line_items(
    session: Session,
    principal: Principal,
    sub: Subscription,
    plan: Plan,
    prices: Sequence[Price],
    quantities: dict[str, Decimal],
    start: datetime,
    end: datetime | None,
) -> list[SubscriptionLineItem]:
    """One line item of ``sub`` per price of ``plan`` from ``start`` (not yet added): usage
    at quantity 0, fixed at its ``quantities`` entry or 1."""
    meters = _meters(session, principal, [p.meter_id for p in prices if p.meter_id])
    items = []
    for price in prices:
        meter = meters.get(price.meter_id or "")
        items.append(
            SubscriptionLineItem(
                id=new_id("subs_line"),
                environment_id=principal.environment_id,
                subscription_id=sub.id,
                customer_id=sub.customer_id,
                entity_type="plan",
                entity_id=plan.id,
                plan_display_name=plan.name,
                price_id=price.id,
                price_type=price.type,
                meter_id=price.meter_id,
                meter_display_name=meter.name if meter else None,
                display_name=price.display_name or (meter.name if meter else plan.name),
                quantity=Decimal(0)
                if price.type == "USAGE"
                else quantities.get(price.id, Decimal(1)),
                currency=sub.currency,
                billing_period=price.billing_period,
                billing_period_count=price.billing_period_count,
                invoice_cadence=price.invoice_cadence,
                start_date=start,
                end_date=end,
                metadata_={},
                status="published",
            )
        )
    return items


def check_start(start: datetime, now: datetime, field: str) -> None:
    """A start date within the bounds: at most ``MAX_BACKDATE`` before ``now`` and at most
    ``MAX_START_AHEAD`` after it."""
    if start < now - MAX_BACKDATE:
        raise InvalidRequest(
            f"{field} must not be more than {MAX_BACKDATE.days} days in the past", field=field
        )
    if start > now + MAX_START_AHEAD:
        raise InvalidRequest(
            f"{field} must not be more than {MAX_START_AHEAD.days} days in the future",
            field=field,
        )


def _meters(session: Session, principal: Principal, meter_ids: Sequence[str]) -> dict[str, Meter]:
    return {m: catalog.get_meter(session, principal, m) for m in set(meter_ids)}


def line_items_of(
    session: Session, subscriptions: Sequence[Subscription]
) -> dict[str, list[SubscriptionLineItem]]:
    out: dict[str, list[SubscriptionLineItem]] = {s.id: [] for s in subscriptions}
    for item in repository.line_items(session, [s.id for s in subscriptions]):
        out[item.subscription_id].append(item)
    return out


def search_subscriptions(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    customer_id: str | None = None,
    customer_ids: Sequence[str] | None = None,
    external_customer_id: str | None = None,
    subscription_statuses: Sequence[str] | None = None,
    **filters: Any,
) -> tuple[list[Subscription], int]:
    """Subscriptions matching every filter given (``repository.SubscriptionQuery``); the
    customer filters (id, ids, external id) intersect."""
    wanted: set[str] | None = None
    if external_customer_id:
        customer = customers.get_customer_by_external_id(session, principal, external_customer_id)
        wanted = {customer.id}
    for ids in ([customer_id] if customer_id else None, customer_ids):
        if ids:
            wanted = set(ids) if wanted is None else wanted & set(ids)
    for value in subscription_statuses or ():
        choice(value, SUBSCRIPTION_STATUSES, "subscription_status")
    q = repository.SubscriptionQuery(
        customer_ids=None if wanted is None else sorted(wanted),
        subscription_statuses=subscription_statuses,
        **filters,
    )
    return repository.search(session, principal.environment_id, q, limit=limit, offset=offset)


# A status changes only through the operation that does the work behind it (periods, proration,
# invoices); an update may restate the current status but never move it.
STATUS_OPERATIONS = {
    "active": "POST /subscriptions/{id}/activate (a draft) or resume (a paused subscription)",
    "cancelled": "POST /subscriptions/{id}/cancel",
    "paused": "POST /subscriptions/{id}/pause",
    "trialing": "a plan trial at creation",
    "draft": "creating the subscription as a draft",
    "incomplete": "the payment flow",
}


def _check_status_unchanged(sub: Subscription, wanted: str, now: datetime) -> None:
    new_status = choice(wanted, SUBSCRIPTION_STATUSES, "status")
    current = effective_status(sub, now)
    if new_status == current:
        return
    raise InvalidRequest(
        f"status cannot be changed by an update (from {current} to {new_status}): "
        f"use {STATUS_OPERATIONS.get(new_status, 'its operation')}",
        field="status",
        details={"current_status": current, "provided_value": new_status},
    )


def update_subscription(
    session: Session, principal: Principal, subscription_id: str, changes: SubscriptionChanges
) -> Subscription:
    sub = get_subscription(session, principal, subscription_id)
    now = utcnow()
    if effective_status(sub, now) == "cancelled":
        raise InvalidOperation("a cancelled subscription cannot be updated")
    if changes.status is not None:
        _check_status_unchanged(sub, changes.status, now)
    if changes.cancel_at is not None:
        if changes.cancel_at <= now:
            raise InvalidRequest("cancel_at must be in the future", field="cancel_at")
        sub.cancel_at = changes.cancel_at
    if changes.cancel_at_period_end is not None:
        sub.cancel_at_period_end = changes.cancel_at_period_end
        sub.cancel_at = effective_period(sub, now).end if sub.cancel_at_period_end else None
    sub.version += 1
    sub.updated_at = now
    session.flush()
    notify.subscription_changed(session, sub, "subscription.updated")
    return sub


def activate_subscription(
    session: Session, principal: Principal, subscription_id: str, start_date: datetime | None
) -> Subscription:
    sub = get_subscription(session, principal, subscription_id)
    if sub.subscription_status != "draft":
        raise InvalidOperation("only a draft subscription can be activated")
    start = start_date or utcnow()
    check_start(start, utcnow(), "start_date")
    anchor, first = periods.first_period(
        start,
        sub.billing_period,
        sub.billing_period_count,
        billing_cycle=sub.billing_cycle,
        timezone=sub.timezone,
    )
    sub.start_date = start
    sub.billing_anchor = anchor
    sub.current_period_start, sub.current_period_end = first.start, first.end
    sub.subscription_status = "active"
    sub.version += 1
    sub.updated_at = utcnow()
    for item in repository.line_items(session, [sub.id]):
        item.start_date = start
    session.flush()
    notify.subscription_changed(session, sub, "subscription.activated")
    return sub


def bill_ended_periods(
    session: Session, sub: Subscription, until: datetime, now: datetime, grace: timedelta
) -> None:
    """Bills the periods that ended by ``until`` exactly as the clock would have (arrears
    of each, the next one's ADVANCE charges), so that an immediate cancellation starts from
    the current period whether or not the clock ran first."""
    try:
        invoice_billing.close_ended_periods(session, sub, until=until, now=now, grace=grace)
    except Exception as error:  # the whole request rolls back: nothing is half-cancelled
        raise Conflict(
            "the subscription's ended period cannot be billed, so it cannot be cancelled"
            f" now: {failures.describe(error)}"
        ) from error


# ---- usage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    line_item: SubscriptionLineItem
    price: Price
    meter: Meter
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class SubscriptionUsage:
    subscription: Subscription
    start: datetime
    end: datetime
    currency: str
    charges: list[Charge]

    @property
    def amount(self) -> Decimal:
        return total(c.amount for c in self.charges)

    @property
    def display_amount(self) -> str:
        return display_amount(round_money(self.amount, minor_units(self.currency)), self.currency)


def subscription_usage(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    lifetime: bool = False,
) -> SubscriptionUsage:
    """Raw usage of each usage line item, priced (entitlements not applied, as upstream)."""
    sub = get_subscription(session, principal, subscription_id)
    now = utcnow()
    period = effective_period(sub, now)
    if lifetime:
        start, end = sub.start_date, end or now
    start = start or period.start
    end = end or period.end
    if end <= start:
        raise InvalidRequest("end_time must be after start_time", field="end_time")
    customer = customers.get_customer(session, principal, sub.customer_id)
    items = [i for i in repository.line_items(session, [sub.id]) if i.price_type == "USAGE"]
    prices = plan_repository.prices_by_id(session, [i.price_id for i in items])
    meters = _meters(session, principal, [i.meter_id for i in items if i.meter_id])
    charges = []
    for item in items:
        # Each item over the part of the window it was on (a plan or quantity change ends
        # one item and starts another on the same meter).
        on_from = max(start, item.start_date)
        on_to = min(end, item.end_date) if item.end_date is not None else end
        if not item.meter_id or on_to <= on_from:
            continue
        price = prices[item.price_id]
        meter = meters[item.meter_id]
        model = model_of_price(price)
        if model.per_event:
            values = priced_event_values(session, meter, customer.external_id, on_from, on_to)
            quantity = total(values)
            amount = events_amount(model, values)
        else:
            quantity = meter_usage(session, meter, customer.external_id, on_from, on_to)
            amount = price_amount(model, quantity)
        charges.append(Charge(item, price, meter, quantity, amount))
    return SubscriptionUsage(sub, start, end, sub.currency, charges)


def plans_of(session: Session, subscriptions: Sequence[Subscription]) -> dict[str, Plan]:
    return plan_repository.plans_by_id(session, list({s.plan_id for s in subscriptions}))


def _no_live_subscriptions(session: Session, customer: Customer) -> str | None:
    if repository.has_live_subscription(session, customer.environment_id, customer.id):
        return "customer cannot be deleted due to active subscriptions"
    return None


customers.DELETE_GUARDS.append(_no_live_subscriptions)
