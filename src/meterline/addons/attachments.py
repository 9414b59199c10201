"""Add-ons bought by subscriptions: added, removed, listed.

Adding an add-on to a live subscription creates its association and one line item per
add-on price in the subscription's currency and billing period (ONETIME prices too),
from the add-on's start (now, or a ``start_date`` earlier in the current period). The
line items are billed like the plan's: ARREAR charges at the period end for the days they
were on, ADVANCE ones on a change invoice (``SUBSCRIPTION_UPDATE``) for the rest of the
period when ``create_prorations`` (the default), then in advance each period. Removing it
ends its line items at the removal (now, a given ``effective_date`` in the current period,
or the period end when neither is given, as upstream); with proration the unused ADVANCE
days come back as a credit (to the wallet when the invoice cannot absorb them). While an
association is on, its add-on's entitlements are the subscription's too
(``entitlements.checks``, ``invoicing.usage_loader``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository
from meterline.addons import service as catalog
from meterline.addons.models import Addon, AddonAssociation
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.invoicing import cycle as invoice_billing
from meterline.invoicing.amounts import ZERO
from meterline.invoicing.models import Invoice
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.pricing import repository as price_repository
from meterline.pricing.fields import choice
from meterline.pricing.models import Price
from meterline.pricing.plans import is_unique_violation
from meterline.subscriptions import payouts
from meterline.subscriptions import repository as subscription_repository
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.changes import check_changeable
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.subscriptions.quantities import override_quantities

MAX_ASSOCIATIONS_LISTED = 1000


@dataclass(frozen=True)
class Attachment:
    """An association made or ended, its line items and what that billed."""

    association: AddonAssociation
    addon: Addon
    subscription: Subscription
    line_items: list[SubscriptionLineItem]
    invoice: Invoice | None
    payout: payouts.Payout | None


def addon_prices(session: Session, addon: Addon, sub: Subscription, at: datetime) -> list[Price]:
    """The add-on's prices a subscription buys: those in its currency and billing period
    (and ONETIME ones). An add-on with prices, none of which fit, is refused."""
    prices = price_repository.active_prices(session, addon.environment_id, "ADDON", [addon.id], at)
    fitting = subscriptions.matching_prices(
        prices, sub.currency, sub.billing_period, sub.billing_period_count
    )
    if prices and not fitting:
        currencies = sorted({p.currency.lower() for p in prices})
        reason = (
            "in the subscription's currency"
            if sub.currency not in currencies
            else "in the subscription's billing period"
        )
        raise InvalidRequest(
            f"the add-on has no price {reason}",
            field="addon_id",
            details={
                "subscription_currency": sub.currency,
                "subscription_billing_period": sub.billing_period,
                "addon_currencies": currencies,
            },
        )
    return fitting


def _check_start(sub: Subscription, start: datetime, now: datetime) -> None:
    if start > now:
        raise InvalidRequest(
            "start_date must not be in the future (an add-on starts now or earlier in the"
            " current period)",
            field="start_date",
        )
    earliest = max(sub.current_period_start, sub.start_date)
    if start < earliest:
        raise InvalidRequest(
            "start_date must be in the subscription's current period",
            field="start_date",
            details={"current_period_start": earliest.isoformat()},
        )


def _check_not_attached(session: Session, sub: Subscription, addon: Addon, start: datetime) -> None:
    for other in repository.associations_of(session, sub.environment_id, [sub.id]):
        if other.addon_id != addon.id:
            continue
        if other.addon_status == "active" or (
            other.end_date is not None and other.end_date > start
        ):
            raise Conflict(
                "the add-on is already on this subscription",
                reason="addon_already_attached",
                details={"addon_association_id": other.id, "addon_id": addon.id},
            )


def _bill_change(
    session: Session,
    principal: Principal,
    sub: Subscription,
    association: AddonAssociation,
    lines: invoice_billing.ChangeLines,
    at: datetime,
    what: str,
) -> tuple[Invoice | None, payouts.Payout | None]:
    if not lines.lines:
        return None, None
    invoice = invoice_billing.create_change_invoice(
        session, sub, at, lines.lines, now=utcnow(), what=f"addon:{association.id}:{what}"
    )
    payout = payouts.pay_to_wallet(
        session,
        principal,
        customer_id=sub.customer_id,
        currency=sub.currency,
        amount=-min(invoice.subtotal, ZERO),
        key=f"{sub.id}:addon:{association.id}:{what}",
        description=f"Add-on {association.addon_id} removed from subscription {sub.id}",
    )
    return invoice, payout


def add_addon(
    session: Session,
    principal: Principal,
    *,
    subscription_id: str,
    addon_id: str,
    start_date: datetime | None,
    proration_behavior: str | None,
    quantities: Mapping[str, Decimal] | None,
    metadata: dict[str, str] | None,
    grace: timedelta,
) -> Attachment:
    behaviour = choice(
        proration_behavior or "create_prorations",
        subscriptions.PRORATION_BEHAVIORS,
        "proration_behavior",
    )
    sub = subscription_repository.lock(
        session, subscriptions.get_subscription(session, principal, subscription_id)
    )
    now = utcnow()
    check_changeable(sub, now)
    addon = catalog.get_live_addon(session, principal, addon_id)
    # The change starts from the current period, whether or not the clock ran.
    subscriptions.bill_ended_periods(session, sub, now, now, grace)
    start = start_date or now
    _check_start(sub, start, now)
    prices = addon_prices(session, addon, sub, start)
    wanted = override_quantities(prices, quantities)
    _check_not_attached(session, sub, addon, start)
    association = AddonAssociation(
        environment_id=principal.environment_id,
        customer_id=sub.customer_id,
        entity_type="subscription",
        entity_id=sub.id,
        addon_id=addon.id,
        addon_status="active",
        start_date=start,
        end_date=None,
        metadata_=dict(metadata or {}),
        status="published",
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    try:
        with session.begin_nested():
            session.add(association)
            session.flush()
    except IntegrityError as exc:  # a concurrent add of the same add-on
        if is_unique_violation(exc):
            raise Conflict(
                "the add-on is already on this subscription", reason="addon_already_attached"
            ) from exc
        raise
    plan = subscriptions.plans_of(session, [sub])[sub.plan_id]
    items = subscriptions.new_line_items(
        session, principal, sub, plan, prices, wanted, start, sub.end_date
    )
    by_id = {p.id: p for p in prices}
    for item in items:
        item.entity_type, item.entity_id = "addon", addon.id
        item.plan_display_name = addon.name
        item.display_name = by_id[item.price_id].display_name or addon.name
        item.addon_association_id = association.id
    lines = invoice_billing.ChangeLines([], [])
    if behaviour == "create_prorations" and sub.subscription_status == "active":
        lines = invoice_billing.change_lines(session, sub, start, items, by_id, ending=set())
    session.add_all(items)
    session.flush()
    invoice, payout = _bill_change(session, principal, sub, association, lines, start, "add")
    sub.version += 1
    sub.updated_at = now
    session.flush()
    return Attachment(association, addon, sub, items, invoice, payout)


def get_association(
    session: Session, principal: Principal, association_id: str
) -> AddonAssociation:
    found = repository.association(session, principal.environment_id, association_id)
    return existing(found, "addon association", association_id)


def remove_addon(
    session: Session,
    principal: Principal,
    *,
    association_id: str,
    change_at: str | None,
    effective_date: datetime | None,
    proration_behavior: str | None,
    reason: str | None,
    grace: timedelta,
) -> Attachment:
    behaviour = choice(
        proration_behavior or "create_prorations",
        subscriptions.PRORATION_BEHAVIORS,
        "proration_behavior",
    )
    when = choice(change_at, ("immediate", "end_of_period"), "change_at") if change_at else None
    association = get_association(session, principal, association_id)
    sub = subscription_repository.lock(
        session, subscriptions.get_subscription(session, principal, association.entity_id)
    )
    now = utcnow()
    if association.addon_status != "active":
        raise InvalidOperation(
            "the add-on has already been removed from the subscription",
            details={"addon_association_id": association.id},
        )
    check_changeable(sub, now)
    subscriptions.bill_ended_periods(session, sub, now, now, grace)
    if effective_date is not None and when is not None:
        raise InvalidRequest(
            "give either change_at or effective_date, not both", field="effective_date"
        )
    if effective_date is not None:
        at = effective_date
    elif when == "immediate":
        at = now
    else:  # upstream: the end of the current period
        at = sub.current_period_end
    earliest = max(association.start_date, sub.current_period_start)
    if at < earliest or at > sub.current_period_end:
        raise InvalidRequest(
            "effective_date must be in the subscription's current period, after the add-on started",
            field="effective_date",
            details={
                "earliest": earliest.isoformat(),
                "latest": sub.current_period_end.isoformat(),
            },
        )
    items = [
        i
        for i in subscription_repository.line_items(session, [sub.id])
        if i.addon_association_id == association.id and (i.end_date is None or i.end_date > at)
    ]
    lines = invoice_billing.ChangeLines([], [])
    if behaviour == "create_prorations" and sub.subscription_status == "active" and items:
        lines = invoice_billing.change_lines(session, sub, at, [], {}, ending={i.id for i in items})
    for item in items:
        item.end_date = at
    association.addon_status = "cancelled"
    association.end_date = at
    association.cancelled_at = now
    association.cancellation_reason = reason
    association.updated_by = principal.user_id
    association.updated_at = now
    session.flush()
    invoice, payout = _bill_change(session, principal, sub, association, lines, at, "remove")
    addon = catalog.get_addon(session, principal, association.addon_id)
    sub.version += 1
    sub.updated_at = now
    session.flush()
    return Attachment(association, addon, sub, items, invoice, payout)


def associations_of_subscription(
    session: Session, principal: Principal, subscription_id: str
) -> list[AddonAssociation]:
    sub = subscriptions.get_subscription(session, principal, subscription_id)
    found = repository.associations_of(session, principal.environment_id, [sub.id])
    return found[:MAX_ASSOCIATIONS_LISTED]


def addons_of(session: Session, associations: list[AddonAssociation]) -> dict[str, Addon]:
    return repository.addons_by_id(session, sorted({a.addon_id for a in associations}))
