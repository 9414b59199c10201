"""Pushing an entity's current prices to the subscriptions that bought it (a plan's to its
subscriptions, an add-on's to its associations).

Each subscription's line items of the entity are made to match the entity's active prices
in the subscription's currency and billing period, **from the end of its current period**:
a price the entity no longer has ends there, a price it gained starts there (a new
version of a FIXED price keeps the seats of the one it replaces when there is one of
each). Nothing of the current period changes, so nothing is prorated or re-invoiced and a
second sync finds nothing to do (docs/billing.md, "Price sync").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.kernel.errors import Conflict
from meterline.pricing import repository as price_repository
from meterline.pricing.models import Plan, Price
from meterline.pricing.plans import get_plan
from meterline.subscriptions import repository, service
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

# One request syncs at most this many subscriptions (one transaction).
MAX_SYNCED_SUBSCRIPTIONS = 10_000
LIVE_STATUSES = ("active", "trialing", "paused", "draft")


@dataclass
class SyncReport:
    subscriptions_checked: int = 0
    subscriptions_changed: int = 0
    line_items_added: int = 0
    line_items_ended: int = 0
    effective_at: dict[str, str] = field(default_factory=dict)  # subscription id → instant


def _fixed_recurring(item_or_price: SubscriptionLineItem | Price) -> bool:
    kind = item_or_price.price_type if isinstance(item_or_price, SubscriptionLineItem) else None
    if isinstance(item_or_price, Price):
        kind = item_or_price.type
    return kind == "FIXED" and item_or_price.billing_period != "ONETIME"


def sync_items(
    session: Session,
    principal: Principal,
    sub: Subscription,
    plan: Plan,
    current: Sequence[SubscriptionLineItem],
    prices: Sequence[Price],
    at: datetime,
    report: SyncReport,
    mark: Callable[[SubscriptionLineItem], None] | None = None,
) -> None:
    """Ends ``current`` items whose price is not in ``prices`` and starts one per price of
    ``prices`` without an item, both at ``at``; ``mark`` sets what the new items belong to."""
    live = [i for i in current if i.end_date is None or i.end_date > at]
    wanted = {p.id: p for p in prices}
    ending = [i for i in live if i.price_id not in wanted]
    covered = {i.price_id for i in live if i.price_id in wanted}
    adding = [p for p in prices if p.id not in covered]
    if not ending and not adding:
        return
    quantities: dict[str, Decimal] = {}
    old_fixed = [i for i in ending if _fixed_recurring(i)]
    new_fixed = [p for p in adding if _fixed_recurring(p)]
    if len(old_fixed) == 1 and len(new_fixed) == 1:
        quantities[new_fixed[0].id] = old_fixed[0].quantity or Decimal(1)
    for item in ending:
        item.end_date = at
    created = service.new_line_items(
        session, principal, sub, plan, adding, quantities, at, sub.end_date
    )
    for item in created:
        if mark is not None:
            mark(item)
    session.add_all(created)
    report.subscriptions_changed += 1
    report.line_items_added += len(created)
    report.line_items_ended += len(ending)
    report.effective_at[sub.id] = at.isoformat()


def sync_point(sub: Subscription, now: datetime) -> datetime | None:
    """Where a sync takes effect on ``sub``: the end of its current period (None when the
    subscription ends by then)."""
    end = service.effective_period(sub, now).end
    if sub.end_date is not None and sub.end_date <= end:
        return None
    return end


def live_subscriptions(
    session: Session,
    principal: Principal,
    *,
    plan_id: str | None = None,
    subscription_ids: Sequence[str] | None = None,
) -> list[Subscription]:
    """The live subscriptions of the plan (or with these ids), bounded."""
    q = repository.SubscriptionQuery(
        subscription_statuses=list(LIVE_STATUSES),
        plan_id=plan_id,
        subscription_ids=subscription_ids,
    )
    found, total = repository.search(
        session, principal.environment_id, q, limit=MAX_SYNCED_SUBSCRIPTIONS, offset=0
    )
    if total > MAX_SYNCED_SUBSCRIPTIONS:
        raise Conflict(
            f"more than {MAX_SYNCED_SUBSCRIPTIONS} subscriptions to sync in one request",
            reason="too_many_subscriptions",
            details={"subscriptions": total},
        )
    return found


def sync_plan_prices(session: Session, principal: Principal, plan_id: str) -> SyncReport:
    """The plan's current prices on each of its live subscriptions, from their next period."""
    plan = get_plan(session, principal, plan_id)
    now = utcnow()
    report = SyncReport()
    subs = live_subscriptions(session, principal, plan_id=plan.id)
    items_of = service.line_items_of(session, subs)
    for sub in subs:
        report.subscriptions_checked += 1
        at = sync_point(sub, now)
        if at is None or service.effective_status(sub, now) == "cancelled":
            continue
        prices = service.matching_prices(
            price_repository.active_prices(
                session, principal.environment_id, "PLAN", [plan.id], at
            ),
            sub.currency,
            sub.billing_period,
            sub.billing_period_count,
        )
        current = [
            i for i in items_of[sub.id] if i.entity_type == "plan" and i.entity_id == plan.id
        ]
        sync_items(session, principal, sub, plan, current, prices, at, report)
    session.flush()
    return report
