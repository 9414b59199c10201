"""What ``compute`` reads, loaded from the database: a subscription's ``Context`` (items,
prices, meters, metered allowances) and its usage, from the hourly aggregates.

The queries live here so that ``compute`` only does the line maths.

Per-event pricing (``SessionUsage.event_values``) is the one read that does not come from the
aggregates: it scans the customer's raw events of the meter over the window (the
customer/event/time index on SQL stores, the same filter pushed down on ClickHouse), one
row per event, and keeps each event's value in memory to sort them by time. Its cost grows
with the events of one customer and window, so it is bounded: more than
``MAX_PRICED_EVENTS`` events refuse the line (the invoice fails with that reason, it is
never priced from a partial list).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.addons import repository as addon_repository
from meterline.catalog.models import Meter
from meterline.entitlements import repository as entitlement_repository
from meterline.invoicing import repository
from meterline.invoicing.amounts import Allowance, Grant, combine_grants
from meterline.invoicing.compute import Context
from meterline.kernel.errors import InvalidOperation
from meterline.kernel.instants import to_micros
from meterline.metering import rebuilds
from meterline.metering.aggregations import event_value, matches
from meterline.metering.backend import usage_reader
from meterline.metering.query import UsageQuery
from meterline.metering.service import meter_spec, meter_usage, store_for
from meterline.metering.stores.sql_reads import EventRange
from meterline.pricing import repository as plan_repository
from meterline.subscriptions import repository as subscription_repository
from meterline.subscriptions.models import Subscription, SubscriptionLineItem


@dataclass(frozen=True)
class SessionUsage:
    """``compute.Usage`` read through ``session`` (the configured event store's aggregates)."""

    session: Session
    # The meters whose aggregates may be read, asked once for a batch
    # (``current_meters``); None: each read asks for its own meter.
    current: frozenset[str] | None = None

    def _current(self, meter: Meter) -> bool | None:
        return None if self.current is None else meter.id in self.current

    def total(self, meter: Meter, customer: str, start: datetime, end: datetime) -> Decimal:
        """The meter's usage for one customer over ``[start, end)``."""
        return meter_usage(
            self.session, meter, customer, start, end, aggregates_current=self._current(meter)
        )

    def buckets(self, meter: Meter, customer: str, start: datetime, end: datetime) -> list[Decimal]:
        """Each bucket's (or, for a grouped meter without buckets, each group's) value."""
        query = UsageQuery(
            meter=meter_spec(meter),
            start=to_micros(start),
            end=to_micros(end),
            customer=customer,
            aggregates_current=self._current(meter),
        )
        result = usage_reader(self.session).query(self.session.connection(), query)
        if meter.bucket_size:
            return [bucket.value for bucket in result.buckets]
        return [group.value for group in result.groups]

    def event_values(
        self, meter: Meter, customer: str, start: datetime, end: datetime
    ) -> list[Decimal]:
        """Each event's meter value over ``[start, end)``, in time order (bounded)."""
        return priced_event_values(self.session, meter, customer, start, end)


MAX_PRICED_EVENTS = 100_000


def priced_event_values(
    session: Session, meter: Meter, customer: str | None, start: datetime, end: datetime
) -> list[Decimal]:
    """Each of the customer's events' meter value over ``[start, end)``, in time order (ties
    in ingest order); at most ``MAX_PRICED_EVENTS`` of them. ``customer`` None: the events
    of every customer of the meter's environment (a cost sheet's cost)."""
    spec = meter_spec(meter)
    timed: list[tuple[int, Decimal]] = []
    wanted = EventRange(meter.event_name, customer, to_micros(start), to_micros(end))
    for event in store_for(session).scan(session.connection(), meter.environment_id, wanted):
        if spec.filters and not matches(event.properties, spec.filters):
            continue
        if len(timed) == MAX_PRICED_EVENTS:
            raise InvalidOperation(
                f"more than {MAX_PRICED_EVENTS} events in one period to price one by one",
                details={"meter_id": meter.id, "external_customer_id": customer},
            )
        timed.append((event.timestamp, event_value(spec, event.properties)))
    timed.sort(key=lambda pair: pair[0])  # stable: ties stay in ingest order
    return [value for _timestamp, value in timed]


def current_meters(session: Session, contexts: Iterable[Context]) -> frozenset[str]:
    """The meters of ``contexts`` whose aggregates may be read, in one query."""
    return rebuilds.current_of(session.connection(), {m for ctx in contexts for m in ctx.meters})


def load_context(session: Session, sub: Subscription, external_customer_id: str) -> Context:
    return load_contexts(session, [sub], {sub.customer_id: external_customer_id})[sub.id]


def load_contexts(
    session: Session, subs: Sequence[Subscription], external_ids: Mapping[str, str]
) -> dict[str, Context]:
    """The contexts of many subscriptions with a fixed number of queries (the clock closes
    subscriptions in batches); ``external_ids`` maps customer id → external id."""
    sub_ids = [sub.id for sub in subs]
    items_of: dict[str, list[SubscriptionLineItem]] = defaultdict(list)
    for item in subscription_repository.line_items(session, sub_ids):
        if item.status == "published":
            items_of[item.subscription_id].append(item)
    all_items = [item for items in items_of.values() for item in items]
    prices = plan_repository.prices_by_id(session, sorted({i.price_id for i in all_items}))
    meter_ids = sorted({i.meter_id for i in all_items if i.meter_id})
    meters = repository.meters_by_id(session, meter_ids)
    grants_of: dict[tuple[str, str], list[Any]] = defaultdict(list)
    addons_of: dict[str, list[str]] = defaultdict(list)
    features_of: dict[str, dict[str, list[str]]] = {}
    for environment_id in sorted({sub.environment_id for sub in subs}):
        in_env = [sub for sub in subs if sub.environment_id == environment_id]
        features = repository.metered_features(session, environment_id, meter_ids)
        features_of[environment_id] = features
        feature_ids = [f for ids in features.values() for f in ids]
        if not feature_ids:
            continue
        # The add-ons on for some of each subscription's current period add their grants
        # (reference §5.4: plan + add-ons + subscription overrides).
        periods_of = {sub.id: (sub.current_period_start, sub.current_period_end) for sub in in_env}
        for association in addon_repository.associations_of(
            session, environment_id, list(periods_of)
        ):
            start, end = periods_of[association.entity_id]
            if association.start_date < end and (
                association.end_date is None or association.end_date > start
            ):
                addons_of[association.entity_id].append(association.addon_id)
        for entity_type, entity_ids in (
            ("PLAN", sorted({sub.plan_id for sub in in_env})),
            ("SUBSCRIPTION", [sub.id for sub in in_env]),
            ("ADDON", sorted({a for sub in in_env for a in addons_of.get(sub.id, [])})),
        ):
            for grant in entitlement_repository.for_entities(
                session, environment_id, entity_type, entity_ids, feature_ids
            ):
                grants_of[(entity_type, grant.entity_id)].append(grant)
    contexts = {}
    for sub in subs:
        items = items_of.get(sub.id, [])
        sub_meters = {i.meter_id for i in items if i.meter_id}
        grants = grants_of.get(("PLAN", sub.plan_id), []) + grants_of.get(
            ("SUBSCRIPTION", sub.id), []
        )
        for addon_id in addons_of.get(sub.id, []):
            grants = grants + grants_of.get(("ADDON", addon_id), [])
        allowances: dict[str, Allowance | None] = {}
        for meter_id, ids in features_of[sub.environment_id].items():
            if meter_id not in sub_meters:
                continue
            allowances[meter_id] = combine_grants(
                Grant(
                    is_enabled=g.is_enabled,
                    usage_limit=g.usage_limit,
                    usage_reset_period=g.usage_reset_period,
                    is_soft_limit=g.is_soft_limit,
                )
                for g in grants
                if g.feature_id in ids and g.feature_type == "metered"
            )
        contexts[sub.id] = Context(
            sub,
            external_ids[sub.customer_id],
            items,
            {i.price_id: prices[i.price_id] for i in items if i.price_id in prices},
            {m: meters[m] for m in sub_meters if m in meters},
            allowances,
        )
    return contexts
