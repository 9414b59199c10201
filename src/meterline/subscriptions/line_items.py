"""Line-item changes of a live subscription: quantities (seats), added and removed items.

Each change at an instant ends the line items it replaces and starts their successors
there (``changes.swap_items``), so every line item has one quantity over its life and the
invoices show each part of the period at its own quantity; with proration the change
invoice credits and charges the rest of the current period, as a plan change does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.pricing import repository as plan_repository
from meterline.pricing.fields import choice
from meterline.pricing.models import Price
from meterline.subscriptions import changes, repository, service
from meterline.subscriptions.changes import Swap
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.subscriptions.quantities import check_quantity

MAX_CHANGES = 100


@dataclass(frozen=True)
class QuantityChange:
    line_item_id: str
    quantity: Decimal


def _live(session: Session, principal: Principal, subscription_id: str) -> Subscription:
    sub = repository.lock(session, service.get_subscription(session, principal, subscription_id))
    changes.check_changeable(sub, utcnow())
    return sub


def _successor(item: SubscriptionLineItem, quantity: Decimal, at: datetime) -> SubscriptionLineItem:
    return SubscriptionLineItem(
        id=new_id("subs_line"),
        environment_id=item.environment_id,
        subscription_id=item.subscription_id,
        customer_id=item.customer_id,
        entity_type=item.entity_type,
        entity_id=item.entity_id,
        plan_display_name=item.plan_display_name,
        price_id=item.price_id,
        price_type=item.price_type,
        meter_id=item.meter_id,
        meter_display_name=item.meter_display_name,
        display_name=item.display_name,
        quantity=quantity,
        currency=item.currency,
        billing_period=item.billing_period,
        billing_period_count=item.billing_period_count,
        invoice_cadence=item.invoice_cadence,
        start_date=at,
        end_date=item.end_date,
        metadata_=dict(item.metadata_ or {}),
        status="published",
        addon_association_id=item.addon_association_id,
    )


def change_quantities(
    session: Session,
    principal: Principal,
    subscription_id: str,
    wanted: Sequence[QuantityChange],
    *,
    grace: timedelta,
) -> Swap:
    """Each named FIXED line item at its new quantity from now, prorated."""
    if not wanted:
        raise InvalidRequest("quantity_change_params.line_items is empty", field="line_items")
    if len(wanted) > MAX_CHANGES:
        raise InvalidRequest(f"at most {MAX_CHANGES} line items per change", field="line_items")
    sub = _live(session, principal, subscription_id)
    now = utcnow()
    service.bill_ended_periods(session, sub, now, now, grace)
    live = {
        i.id: i
        for i in repository.line_items(session, [sub.id])
        if i.end_date is None or i.end_date > now
    }
    seen: set[str] = set()
    ending, created = [], []
    for change in wanted:
        item = live.get(change.line_item_id)
        if item is None:
            raise InvalidRequest(
                "no current line item of this subscription has this id",
                field="line_items.id",
                details={"id": change.line_item_id},
            )
        if item.id in seen:
            raise InvalidRequest("a line item is named twice", field="line_items.id")
        seen.add(item.id)
        if item.price_type != "FIXED":
            raise InvalidRequest(
                "only a FIXED line item has a quantity (usage is metered)",
                field="line_items.id",
                details={"id": item.id},
            )
        quantity = check_quantity(change.quantity, "line_items.quantity")
        if quantity == item.quantity:
            continue
        ending.append(item)
        created.append(_successor(item, quantity, now))
    prices = plan_repository.prices_by_id(session, [i.price_id for i in created])
    swap = changes.swap_items(
        session,
        principal,
        sub,
        ending,
        created,
        prices,
        prorate=True,
        at=now,
        description=f"Quantity change of subscription {sub.id}",
    )
    _touch(sub, now)
    return swap


def _touch(sub: Subscription, now: datetime) -> None:
    sub.version += 1
    sub.updated_at = now


def _price_for(session: Session, principal: Principal, sub: Subscription, price_id: str) -> Price:
    price = existing(
        plan_repository.prices_by_id(session, [price_id]).get(price_id), "price", price_id
    )
    if price.environment_id != principal.environment_id:
        raise InvalidRequest("price not found", field="price_id")
    if not service.matching_prices(
        [price], sub.currency, sub.billing_period, sub.billing_period_count
    ):
        raise InvalidRequest(
            "the price is not in the subscription's currency and billing period",
            field="price_id",
            details={"currency": sub.currency, "billing_period": sub.billing_period},
        )
    if price.status != "published":
        raise InvalidRequest("the price is archived", field="price_id")
    return price


def add_line_item(
    session: Session,
    principal: Principal,
    subscription_id: str,
    *,
    price_id: str,
    quantity: Decimal | None,
    display_name: str | None,
    metadata: dict[str, str] | None,
    proration_behavior: str | None,
    grace: timedelta,
) -> Swap:
    """A price added to the subscription from now (``entity_type`` subscription)."""
    behaviour = choice(
        proration_behavior or "create_prorations",
        service.PRORATION_BEHAVIORS,
        "proration_behavior",
    )
    sub = _live(session, principal, subscription_id)
    price = _price_for(session, principal, sub, price_id)
    amount = Decimal(0) if price.type == "USAGE" else check_quantity(quantity or Decimal(1))
    if price.type == "USAGE" and quantity not in (None, Decimal(0)):
        raise InvalidRequest("a usage line item has no quantity", field="quantity")
    now = utcnow()
    service.bill_ended_periods(session, sub, now, now, grace)
    plan = service.plans_of(session, [sub])[sub.plan_id]
    [item] = service.new_line_items(
        session, principal, sub, plan, [price], {price.id: amount}, now, sub.end_date
    )
    item.entity_type, item.entity_id = "subscription", sub.id
    item.display_name = display_name or item.display_name
    item.metadata_ = dict(metadata or {})
    swap = changes.swap_items(
        session,
        principal,
        sub,
        [],
        [item],
        {price.id: price},
        prorate=behaviour == "create_prorations",
        at=now,
        description=f"Line item added to subscription {sub.id}",
    )
    _touch(sub, now)
    return swap


def _item(session: Session, principal: Principal, line_item_id: str) -> SubscriptionLineItem:
    item = session.get(SubscriptionLineItem, line_item_id)
    if item is None or item.environment_id != principal.environment_id:
        item = None
    return existing(item, "subscription line item", line_item_id)


def remove_line_item(
    session: Session,
    principal: Principal,
    line_item_id: str,
    *,
    proration_behavior: str | None,
    grace: timedelta,
) -> Swap:
    """The line item ended now; with proration its unused paid days are credited."""
    behaviour = choice(
        proration_behavior or "create_prorations",
        service.PRORATION_BEHAVIORS,
        "proration_behavior",
    )
    item = _item(session, principal, line_item_id)
    sub = _live(session, principal, item.subscription_id)
    now = utcnow()
    if item.end_date is not None and item.end_date <= now:
        raise InvalidOperation("the line item has already ended")
    service.bill_ended_periods(session, sub, now, now, grace)
    swap = changes.swap_items(
        session,
        principal,
        sub,
        [item],
        [],
        {},
        prorate=behaviour == "create_prorations",
        at=now,
        description=f"Line item removed from subscription {sub.id}",
    )
    _touch(sub, now)
    return swap


def update_line_item(
    session: Session, principal: Principal, line_item_id: str, *, metadata: dict[str, str] | None
) -> SubscriptionLineItem:
    item = _item(session, principal, line_item_id)
    if metadata is not None:
        item.metadata_ = dict(metadata)
    item.updated_at = utcnow()
    session.flush()
    return item
