"""What a customer may do now: aggregated grants, usage summaries and check-and-consume.

A customer's grants come from its live (active or trialing) subscriptions: each plan's
grants, overridden feature by feature by the subscription's own grants. Across
subscriptions, grants of one feature aggregate as upstream does (reference §5.4): enabled
if any is enabled, limits summed (unlimited if any enabled grant is unlimited), soft if any
is soft, the most common reset period.

Usage of a metered feature is read from the hourly aggregates kept at write time
(``events.service.meter_usage``) over the window of the feature's reset period, computed
from the first (oldest) subscription that grants it.

Check-and-consume records the consumption as an event through the event store in the same
transaction as the check. Its idempotency key is (environment, customer, feature,
``event_id``), kept in ``entitlement_consumptions``; the events get ids minted from that
row's id, so they never collide with ingested event ids. Concurrent consumers of one
customer are serialized by the write lock (SQLite) or the customer's row lock
(PostgreSQL), so a hard limit is never exceeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository as addon_repository
from meterline.catalog import service as catalog
from meterline.catalog.models import Feature, Meter
from meterline.customers.models import Customer
from meterline.db.base import new_id, utcnow
from meterline.entitlements import repository
from meterline.entitlements.models import Consumption, Entitlement
from meterline.kernel import calendar as periods
from meterline.kernel.errors import Conflict, InvalidRequest
from meterline.kernel.instants import SYSTEM_CLOCK, Clock, to_micros
from meterline.kernel.money import MONEY_CONTEXT, total
from meterline.metering.aggregations import aggregation_of
from meterline.metering.ingest import EventRow
from meterline.metering.service import meter_spec, meter_usage, store_for
from meterline.pricing.models import Plan
from meterline.subscriptions import repository as subscription_repository
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription
from meterline.webhooks import notify

FEATURE_ORDER = {"metered": 0, "static": 1, "boolean": 2, "config": 3}
FAR_FUTURE = periods.NEVER_ENDS
MAX_CONSUME_EVENTS = 1000
_json = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True)
class Source:
    subscription: Subscription
    grant: Entitlement
    entity_name: str
    # Set for an add-on's grant: the instant its association ends (None: not scheduled).
    until: datetime | None = None


@dataclass
class FeatureAccess:
    """One feature's aggregated grant for a customer."""

    feature: Feature
    meter: Meter | None
    sources: list[Source]
    is_enabled: bool
    usage_limit: Decimal | None
    is_soft_limit: bool
    usage_reset_period: str | None
    static_values: list[str] = field(default_factory=list)
    config_values: list[Any] = field(default_factory=list)
    current_usage: Decimal = Decimal(0)
    window: periods.Period | None = None

    @property
    def is_unlimited(self) -> bool:
        return self.feature.type == "metered" and self.is_enabled and self.usage_limit is None

    @property
    def usage_percent(self) -> Decimal:
        return usage_fraction(self.usage_limit, self.current_usage)


def usage_fraction(limit: Decimal | None, usage: Decimal) -> Decimal:
    """Upstream's fraction: usage / limit; 0 when unlimited, 100 when the limit is ≤ 0."""
    if limit is None:
        return Decimal(0)
    if limit <= 0:
        return Decimal(100)
    return usage / limit


def _live_subscriptions(
    session: Session, principal: Principal, customer: Customer, now: datetime
) -> list[Subscription]:
    subs = subscription_repository.live_for_customer(session, principal.environment_id, customer.id)
    return [s for s in subs if subscriptions.effective_status(s, now) in ("active", "trialing")]


def _sources(
    session: Session,
    principal: Principal,
    subs: Sequence[Subscription],
    feature_ids: Sequence[str] | None,
    now: datetime | None = None,
) -> dict[str, list[Source]]:
    plans: dict[str, Plan] = subscriptions.plans_of(session, subs)
    env = principal.environment_id
    plan_grants = repository.for_entities(session, env, "PLAN", list(plans), feature_ids)
    sub_grants = repository.for_entities(
        session, env, "SUBSCRIPTION", [s.id for s in subs], feature_ids
    )
    by_plan: dict[str, dict[str, Entitlement]] = {}
    for grant in plan_grants:
        by_plan.setdefault(grant.entity_id, {})[grant.feature_id] = grant
    by_sub: dict[str, dict[str, Entitlement]] = {}
    for grant in sub_grants:
        by_sub.setdefault(grant.entity_id, {})[grant.feature_id] = grant
    out: dict[str, list[Source]] = {}
    for sub in subs:
        merged = dict(by_plan.get(sub.plan_id, {}))
        merged.update(by_sub.get(sub.id, {}))  # per-subscription overrides win
        plan_name = plans[sub.plan_id].name if sub.plan_id in plans else sub.plan_id
        for feature_id, grant in merged.items():
            out.setdefault(feature_id, []).append(Source(sub, grant, plan_name))
    # An active add-on's grants add to its subscription's (reference §5.4: plan + add-ons).
    for source in _addon_sources(session, env, subs, feature_ids, now):
        out.setdefault(source.grant.feature_id, []).append(source)
    return out


def _addon_sources(
    session: Session,
    environment_id: str,
    subs: Sequence[Subscription],
    feature_ids: Sequence[str] | None,
    now: datetime | None,
) -> list[Source]:
    at = now or utcnow()
    by_sub = {s.id: s for s in subs}
    on = [
        a
        for a in addon_repository.associations_of(session, environment_id, list(by_sub))
        if a.start_date <= at and (a.end_date is None or a.end_date > at)
    ]
    if not on:
        return []
    addons = addon_repository.addons_by_id(session, sorted({a.addon_id for a in on}))
    grants = repository.for_entities(session, environment_id, "ADDON", sorted(addons), feature_ids)
    out = []
    for association in on:
        addon = addons[association.addon_id]
        for grant in grants:
            if grant.entity_id == addon.id:
                sub = by_sub[association.entity_id]
                out.append(Source(sub, grant, addon.name, association.end_date))
    return out


def _aggregate(feature: Feature, meter: Meter | None, sources: list[Source]) -> FeatureAccess:
    enabled = [s.grant for s in sources if s.grant.is_enabled]
    limit: Decimal | None = None
    if enabled and all(g.usage_limit is not None for g in enabled):
        limit = total(g.usage_limit or Decimal(0) for g in enabled)
    resets = Counter(g.usage_reset_period for g in enabled if g.usage_reset_period)
    access = FeatureAccess(
        feature=feature,
        meter=meter,
        sources=sources,
        is_enabled=bool(enabled),
        usage_limit=limit if enabled else Decimal(0),
        is_soft_limit=any(g.is_soft_limit for g in enabled),
        usage_reset_period=resets.most_common(1)[0][0] if resets else None,
    )
    for grant in enabled:
        if grant.static_value is not None and grant.static_value not in access.static_values:
            access.static_values.append(grant.static_value)
        if isinstance(grant.config_value, dict):
            access.config_values.append(grant.config_value)
    return access


def window_for(access: FeatureAccess, now: datetime) -> periods.Period:
    """The usage window of a metered grant at ``now``: its reset period's, in the first
    granting subscription's billing cycle."""
    sub = access.sources[0].subscription
    period = subscriptions.effective_period(sub, now)
    return periods.usage_window(
        access.usage_reset_period,
        subscription_period=period,
        subscription_start=sub.start_date,
        billing_period=sub.billing_period,
        billing_period_count=sub.billing_period_count,
        anchor=sub.billing_anchor,
        at=now,
        timezone=sub.timezone,
    )


def _read_usage(session: Session, access: FeatureAccess, customer: Customer, now: datetime) -> None:
    if access.feature.type != "metered" or access.meter is None or not access.sources:
        return
    access.window = window_for(access, now)
    access.current_usage = meter_usage(
        session, access.meter, customer.external_id, access.window.start, access.window.end
    )


def customer_access(
    session: Session,
    principal: Principal,
    customer: Customer,
    *,
    feature_ids: Sequence[str] | None = None,
    subscription_ids: Sequence[str] | None = None,
    with_usage: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> list[FeatureAccess]:
    """Every feature the customer's live subscriptions grant, sorted as upstream sorts."""
    now = clock.now()
    subs = _live_subscriptions(session, principal, customer, now)
    if subscription_ids:
        subs = [s for s in subs if s.id in subscription_ids]
    sources = _sources(session, principal, subs, feature_ids, now)
    features = {f: catalog.get_feature(session, principal, f) for f in sources}
    meters = catalog.meters_of(session, list(features.values()))
    out = []
    for feature_id, feature_sources in sources.items():
        feature = features[feature_id]
        access = _aggregate(feature, meters.get(feature.meter_id or ""), feature_sources)
        if with_usage:
            _read_usage(session, access, customer, now)
        out.append(access)
    out.sort(key=lambda a: (FEATURE_ORDER.get(a.feature.type, 9), a.feature.name, a.feature.id))
    return out


def subscription_access(
    session: Session, principal: Principal, sub: Subscription, feature_ids: Sequence[str] | None
) -> list[FeatureAccess]:
    sources = _sources(session, principal, [sub], feature_ids)
    features = {f: catalog.get_feature(session, principal, f) for f in sources}
    meters = catalog.meters_of(session, list(features.values()))
    out = [
        _aggregate(features[f], meters.get(features[f].meter_id or ""), s)
        for f, s in sources.items()
    ]
    out.sort(key=lambda a: (FEATURE_ORDER.get(a.feature.type, 9), a.feature.name, a.feature.id))
    return out


# ---- check-and-consume ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    customer: Customer
    feature: Feature
    allowed: bool
    reason: str | None
    access: FeatureAccess | None
    usage: Decimal
    limit: Decimal | None
    remaining: Decimal | None
    consumed: Decimal
    duplicate: bool
    resets_at: datetime | None


def _consumption_rows(
    meter: Meter, customer: Customer, quantity: Decimal, event_id: str, now: datetime
) -> list[EventRow]:
    """The events recording a consumption; their ids are ``event_id``, ``event_id#1``, …
    where ``event_id`` is minted here (never the client's key)."""
    kind = meter.aggregation_type
    base: dict[str, Any] = {}
    for item in meter.filters or []:
        values = item.get("values") or []
        if values:
            base[str(item["key"])] = values[0]
    if kind == "COUNT":
        if quantity != quantity.to_integral_value() or quantity > MAX_CONSUME_EVENTS:
            raise InvalidRequest(
                f"a COUNT meter consumes whole units, at most {MAX_CONSUME_EVENTS} at once",
                field="consume",
            )
        values = [base] * int(quantity)
    elif meter.aggregation_field and (
        (value := aggregation_of(kind).consumption(meter_spec(meter), quantity)) is not None
    ):
        values = [{**base, meter.aggregation_field: value}]
    else:
        raise InvalidRequest(
            f"consume is not supported for {kind} meters (only COUNT, SUM, SUM_WITH_MULTIPLIER)",
            field="consume",
        )
    micros = to_micros(now)
    return [
        EventRow(
            environment_id=meter.environment_id,
            event_id=event_id if index == 0 else f"{event_id}#{index}",
            event_name=meter.event_name,
            external_customer_id=customer.external_id,
            customer_id=customer.id,
            timestamp=micros,
            source="entitlement_check",
            properties=properties,
            properties_json=_json.encode(properties).decode(),
        )
        for index, properties in enumerate(values)
    ]


def _result(
    customer: Customer,
    feature: Feature,
    access: FeatureAccess | None,
    allowed: bool,
    reason: str | None,
    consumed: Decimal = Decimal(0),
    duplicate: bool = False,
) -> CheckResult:
    usage = access.current_usage if access else Decimal(0)
    limit = access.usage_limit if access and feature.type == "metered" else None
    remaining = None if limit is None else max(Decimal(0), MONEY_CONTEXT.subtract(limit, usage))
    resets = (
        access.window.end if access and access.window and access.window.end != FAR_FUTURE else None
    )
    return CheckResult(
        customer,
        feature,
        allowed,
        reason,
        access,
        usage,
        limit,
        remaining,
        consumed,
        duplicate,
        resets,
    )


def needs_usage(access: FeatureAccess | None) -> bool:
    """Whether a check of this grant reads usage (an enabled metered feature with a meter)."""
    return (
        access is not None
        and access.is_enabled
        and access.feature.type == "metered"
        and access.meter is not None
    )


def verdict(customer: Customer, feature: Feature, access: FeatureAccess | None) -> CheckResult:
    """The answer to a check without consumption. ``access`` holds the current usage and
    window already when ``needs_usage(access)``."""
    if access is None:
        return _result(customer, feature, access, False, "no_entitlement")
    if not access.is_enabled:
        return _result(customer, feature, access, False, "disabled")
    if feature.type != "metered":
        return _result(customer, feature, access, True, None)
    if access.meter is None:
        return _result(customer, feature, access, False, "no_meter")
    fits = access.usage_limit is None or access.current_usage < access.usage_limit
    if fits or access.is_soft_limit:
        return _result(customer, feature, access, True, None if fits else "soft_limit_exceeded")
    return _result(customer, feature, access, False, "limit_exceeded")


def _notify_consumed(
    session: Session,
    customer: Customer,
    feature: Feature,
    access: FeatureAccess,
    before: Decimal,
    after: Decimal,
    *,
    refused: bool,
) -> None:
    notify.entitlement_consumed(
        session,
        customer,
        feature.id,
        feature.lookup_key,
        access.usage_limit,
        before,
        after,
        refused=refused,
    )


def check_feature(
    session: Session,
    principal: Principal,
    customer: Customer,
    feature: Feature,
    *,
    consume: Decimal | None = None,
    event_id: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> CheckResult:
    """May ``customer`` use ``feature`` now; with ``consume``, record that use atomically.

    A hard limit allows a consumption only if it fits entirely (usage + consume ≤ limit); a
    soft limit allows and reports the overage. Re-sending an ``event_id`` this customer
    already consumed on this feature answers allowed without consuming again; the same
    ``event_id`` on another customer or feature is a consumption of its own.
    """
    if consume is not None:
        if consume <= 0:
            raise InvalidRequest("consume must be positive", field="consume")
        repository.lock_customer(session, customer.id)
    now = clock.now()
    found = customer_access(session, principal, customer, feature_ids=[feature.id], clock=clock)
    access = found[0] if found else None
    enabled = access is not None and access.is_enabled
    if consume is not None and enabled and feature.type != "metered":
        raise InvalidRequest("consume is only for metered features", field="consume")
    if needs_usage(access):
        assert access is not None
        _read_usage(session, access, customer, now)
    if consume is None or not needs_usage(access):
        return verdict(customer, feature, access)
    assert access is not None and access.meter is not None
    store = store_for(session)
    if event_id and repository.consumption(
        session, principal.environment_id, customer.id, feature.id, event_id
    ):
        return _result(customer, feature, access, True, None, duplicate=True)
    after = MONEY_CONTEXT.add(access.current_usage, consume)
    fits = access.usage_limit is None or after <= access.usage_limit
    before = access.current_usage
    if not fits and not access.is_soft_limit:
        _notify_consumed(session, customer, feature, access, before, after, refused=True)
        return _result(customer, feature, access, False, "limit_exceeded")
    minted = new_id("cons")
    rows = _consumption_rows(access.meter, customer, consume, minted, now)
    if event_id:
        session.add(
            Consumption(
                id=minted,
                environment_id=principal.environment_id,
                customer_id=customer.id,
                feature_id=feature.id,
                event_id=event_id,
                quantity=consume,
                created_at=now,
            )
        )
    if not all(store.insert(session.connection(), rows)):
        # A minted id already stored: only an event sent with that very id can do this.
        raise Conflict("the consumption's event ids are taken; retry")
    # Consumers of this customer are serialized, so the new usage is exactly this.
    access.current_usage = after
    _notify_consumed(session, customer, feature, access, before, after, refused=False)
    return _result(
        customer, feature, access, True, None if fits else "soft_limit_exceeded", consumed=consume
    )
