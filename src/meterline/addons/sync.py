"""An add-on's current prices pushed to the subscriptions that have it, from their next
period (``subscriptions.price_sync``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository
from meterline.addons import service as catalog
from meterline.db.base import utcnow
from meterline.pricing import repository as price_repository
from meterline.subscriptions import price_sync
from meterline.subscriptions import repository as subscription_repository
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import SubscriptionLineItem
from meterline.subscriptions.price_sync import SyncReport


def sync_addon_prices(session: Session, principal: Principal, addon_id: str) -> SyncReport:
    addon = catalog.get_addon(session, principal, addon_id)
    now = utcnow()
    report = SyncReport()
    associations = repository.live_of_addon(session, principal.environment_id, addon.id)
    subs = (
        {
            s.id: s
            for s in price_sync.live_subscriptions(
                session, principal, subscription_ids=sorted({a.entity_id for a in associations})
            )
        }
        if associations
        else {}
    )
    items = subscription_repository.line_items(session, sorted(subs))
    plans = subscriptions.plans_of(session, list(subs.values()))
    for association in associations:
        sub = subs.get(association.entity_id)
        if sub is None:
            continue
        report.subscriptions_checked += 1
        at = price_sync.sync_point(sub, now)
        if at is None or subscriptions.effective_status(sub, now) == "cancelled":
            continue
        if association.end_date is not None and association.end_date <= at:
            continue
        prices = subscriptions.matching_prices(
            price_repository.active_prices(
                session, principal.environment_id, "ADDON", [addon.id], at
            ),
            sub.currency,
            sub.billing_period,
            sub.billing_period_count,
        )
        current = [i for i in items if i.addon_association_id == association.id]
        named = {p.id: p.display_name for p in prices}

        def mark(
            item: SubscriptionLineItem,
            association_id: str = association.id,
            named: dict[str, str | None] = named,
        ) -> None:
            item.entity_type, item.entity_id = "addon", addon.id
            item.plan_display_name = addon.name
            item.display_name = named.get(item.price_id) or addon.name
            item.addon_association_id = association_id

        price_sync.sync_items(
            session, principal, sub, plans[sub.plan_id], current, prices, at, report, mark
        )
    session.flush()
    return report
