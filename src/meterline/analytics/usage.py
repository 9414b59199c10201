"""Usage analytics: a customer's usage per metered feature over a time range, in windows,
with what that usage costs under the customer's live subscriptions.

Usage comes from the same hourly aggregates as ``/v1/events/usage/meter`` (never a raw
scan). Cost is what the invoice computation (``invoicing.compute.arrear_lines``) charges for
the range as if it were one billing period: the price's charge model, entitlements'
included usage and per-event or bucketed pricing exactly as an invoice applies them. A point's
cost is what its window adds to the cost of the range up to it, so the points sum to the
item's cost. Subscriptions no longer live (cancelled or ended) are not priced: their usage is
reported, their cost is 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import repository as catalog
from meterline.catalog.models import Feature, Meter
from meterline.customers import service as customers
from meterline.invoicing import compute
from meterline.invoicing.usage_loader import SessionUsage, load_contexts
from meterline.kernel import calendar as periods
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.kernel.instants import from_micros
from meterline.kernel.money import minor_units, round_money
from meterline.metering import service as events
from meterline.subscriptions import repository as subscriptions

DEFAULT_RANGE = timedelta(days=30)
MAX_FEATURES = 100
GROUPS = ("feature_id",)
ZERO = Decimal(0)


@dataclass(frozen=True)
class UsageAnalyticsQuery:
    external_customer_id: str
    start: datetime | None
    end: datetime | None
    window: str | None
    feature_ids: Sequence[str] | None
    group_by: Sequence[str] | None


@dataclass(frozen=True)
class Point:
    start: datetime
    usage: Decimal
    cost: Decimal


@dataclass(frozen=True)
class Item:
    feature: Feature
    meter: Meter
    usage: Decimal
    cost: Decimal
    currency: str | None
    points: list[Point]
    # The one subscription line item pricing the feature, when exactly one does.
    subscription_id: str | None = None
    price_id: str | None = None
    plan_id: str | None = None
    line_item_id: str | None = None


@dataclass(frozen=True)
class UsageAnalytics:
    external_customer_id: str
    currency: str | None
    total_cost: Decimal
    items: list[Item] = field(default_factory=list)


def _range(q: UsageAnalyticsQuery, now: datetime) -> tuple[datetime, datetime]:
    end = q.end or now
    start = q.start or end - DEFAULT_RANGE
    if end <= start:
        raise InvalidRequest("end_time must be after start_time", field="end_time")
    return start, end


def metered_features(
    session: Session, principal: Principal, ids: Sequence[str] | None
) -> list[Feature]:
    """The environment's published metered features (those of ``ids`` only, when given)."""
    if ids and len(ids) > MAX_FEATURES:
        raise InvalidRequest(f"feature_ids holds at most {MAX_FEATURES} ids", field="feature_ids")
    q = catalog.FeatureQuery(feature_ids=ids or None, feature_type="metered")
    found, _total = catalog.search_features(session, principal.environment_id, q, MAX_FEATURES, 0)
    missing = sorted(set(ids or ()) - {f.id for f in found})
    if missing:
        raise NotFound("metered feature", missing[0])
    return [f for f in found if f.meter_id is not None]


class _Costs:
    """What the customer's live subscriptions charge for a meter's usage over a window."""

    def __init__(self, session: Session, principal: Principal, customer_id: str, external: str):
        subs = subscriptions.live_for_customer(session, principal.environment_id, customer_id)
        self.contexts = list(load_contexts(session, subs, {customer_id: external}).values())
        self.usage = SessionUsage(session)
        self.items_of: dict[str, list[tuple[compute.Context, str]]] = defaultdict(list)
        for ctx in self.contexts:
            for item in ctx.items:
                if item.price_type == "USAGE" and item.meter_id:
                    self.items_of[item.meter_id].append((ctx, item.id))

    def currency(self) -> str | None:
        return self.contexts[0].subscription.currency if self.contexts else None

    def of(self, meter_id: str, start: datetime, end: datetime) -> Decimal:
        total = ZERO
        for ctx, item_id in self.items_of.get(meter_id, ()):
            one = compute.Context(
                subscription=ctx.subscription,
                external_customer_id=ctx.external_customer_id,
                items=[i for i in ctx.items if i.id == item_id],
                prices=ctx.prices,
                meters=ctx.meters,
                allowances=ctx.allowances,
            )
            lines = compute.arrear_lines(self.usage, one, periods.Period(start, end))
            # Rounded once per line, as the invoice rounds it.
            digits = minor_units(ctx.subscription.currency)
            total += sum((round_money(line.amount, digits) for line in lines), ZERO)
        return total


def usage_analytics(
    session: Session, principal: Principal, q: UsageAnalyticsQuery, now: datetime
) -> UsageAnalytics:
    for group in q.group_by or ():
        if group not in GROUPS:
            raise InvalidRequest(
                f"group_by {group!r} is not supported (supported: {', '.join(GROUPS)})",
                field="group_by",
            )
    start, end = _range(q, now)
    customer = customers.get_customer_by_external_id(session, principal, q.external_customer_id)
    costs = _Costs(session, principal, customer.id, customer.external_id)
    currency = costs.currency()
    params = events.UsageParams(
        start=start,
        end=end,
        customer=customer.external_id,
        window=q.window,
        timezone=None,
        billing_anchor=None,
        filters=None,
    )
    items = []
    for feature in metered_features(session, principal, q.feature_ids):
        assert feature.meter_id is not None
        meter, result = events.usage_by_meter(session, principal, feature.meter_id, params)
        priced = costs.items_of.get(meter.id, [])
        if not q.feature_ids and result.value == ZERO and not priced:
            continue
        points = []
        if q.window:
            # A point's cost is what its window adds to the range's cost so far: the points
            # sum to the item's cost, tiers and included usage counted once for the range.
            cuts = [start, *(from_micros(w.start) for w in result.windows[1:]), end]
            so_far = [costs.of(meter.id, start, cut) if priced else ZERO for cut in cuts[1:]]
            added = [b - a for a, b in pairwise([ZERO, *so_far])]
            points = [
                Point(from_micros(w.start), w.value, cost)
                for w, cost in zip(result.windows, added, strict=True)
            ]
        one = priced[0] if len(priced) == 1 else None
        item_row = next((i for i in one[0].items if i.id == one[1]), None) if one else None
        items.append(
            Item(
                feature=feature,
                meter=meter,
                usage=result.value,
                cost=costs.of(meter.id, start, end) if priced else ZERO,
                currency=currency,
                points=points,
                subscription_id=one[0].subscription.id if one else None,
                price_id=item_row.price_id if item_row else None,
                plan_id=one[0].subscription.plan_id if one else None,
                line_item_id=one[1] if one else None,
            )
        )
    return UsageAnalytics(
        external_customer_id=customer.external_id,
        currency=currency,
        total_cost=sum((i.cost for i in items), ZERO),
        items=items,
    )
