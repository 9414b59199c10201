"""Alert firing: the value each enabled setting watches, the state it puts the setting in,
and, on each change, one log row and (for a crossing or a recovery) one webhook.

What a setting watches (``entity_type``):

* ``wallet``: the wallet's credit balance; one subject (the wallet), no period.
* ``subscription``: the metered spend (``USAGE`` lines priced as the period's invoice will
  price them, each rounded to the currency) of the subscription's current billing period so
  far; ``subscription_line_item``: the same for one of its line items. Subject: the entity;
  period: the billing period, so a threshold crossed fires again in the next period.
* ``entitlement_grant``: each customer's usage of the entitlement's feature in its usage
  window (absolute, or a percentage of the customer's usage limit for the feature); subject:
  the customer; period: the usage window.

Exactly once: the state is a row per (setting, subject, period). A change inserts it (the
unique key refuses a racing insert) or moves it with a compare-and-set; the log row and the
outbox message are written in the same transaction, so a restart or a second process neither
sends a change twice nor loses one. A change that loses the race is rolled back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.models import Environment
from meterline.accounts.principal import Principal
from meterline.alerts import repository, thresholds
from meterline.alerts.models import AlertLog, AlertSetting, AlertState
from meterline.customers.models import Customer
from meterline.entitlements import checks
from meterline.entitlements.models import Entitlement
from meterline.invoicing import compute, usage_loader
from meterline.kernel import calendar
from meterline.kernel.instants import FixedClock
from meterline.kernel.money import MONEY_CONTEXT, in_money_context, minor_units, round_money
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.wallets.models import Wallet
from meterline.webhooks import notify

# A wallet's balance has no period: its one state row is keyed at the epoch.
NO_PERIOD = datetime(1970, 1, 1, tzinfo=UTC)
ALERT_TYPES = {
    "wallet": "low_credit_balance",
    "subscription": "subscription_spend",
    "subscription_line_item": "subscription_line_item_spend",
    "entitlement_grant": "entitlement_grant_threshold",
}


@dataclass(frozen=True)
class Reading:
    """One subject's watched value at one instant."""

    subject_id: str
    customer_id: str | None
    period_start: datetime
    value: Decimal  # what the thresholds compare: a percentage for a percentage setting
    amount: Decimal  # the balance, spend or usage itself
    limit: Decimal | None = None  # an entitlement's usage limit


@dataclass(frozen=True)
class Fired:
    setting_id: str
    subject_id: str
    old: str
    new: str
    event_type: str | None


def _live(sub: Subscription | None, now: datetime) -> bool:
    return sub is not None and subscriptions.effective_status(sub, now) in ("active", "trialing")


@in_money_context
def _spend(
    session: Session, sub: Subscription, now: datetime, line_item_id: str | None
) -> tuple[datetime, Decimal] | None:
    owner = session.get(Customer, sub.customer_id)
    if owner is None:
        return None
    period = subscriptions.effective_period(sub, now)
    end = min(now, period.end)
    digits = minor_units(sub.currency)
    total = Decimal(0)
    if end > period.start:
        ctx = usage_loader.load_context(session, sub, str(owner.external_id))
        lines = compute.arrear_lines(
            usage_loader.SessionUsage(session), ctx, calendar.Period(period.start, end)
        )
        for line in lines:
            if line.price_type != "USAGE":
                continue
            if line_item_id is not None and line.subscription_line_item_id != line_item_id:
                continue
            total += round_money(line.amount, digits)
    return period.start, total


def _principal(session: Session, environment_id: str) -> Principal:
    env = session.get(Environment, environment_id)
    organization_id = env.organization_id if env is not None else ""
    return Principal(organization_id=organization_id, environment_id=environment_id, key_id="")


def _entitlement_readings(
    session: Session,
    setting: AlertSetting,
    config: thresholds.Config,
    now: datetime,
    customers: Collection[str] | None,
) -> list[Reading]:
    grant = session.get(Entitlement, setting.entity_id)
    if (
        grant is None
        or grant.status != "published"
        or grant.environment_id != (setting.environment_id)
    ):
        return []
    if grant.entity_type == "PLAN":
        subs = repository.live_subscriptions_of(
            session, setting.environment_id, plan_id=grant.entity_id
        )
    else:
        subs = repository.live_subscriptions_of(
            session, setting.environment_id, subscription_id=grant.entity_id
        )
    principal = _principal(session, setting.environment_id)
    out = []
    for customer_id in sorted({s.customer_id for s in subs}):
        if customers is not None and customer_id not in customers:
            continue
        customer = session.get(Customer, customer_id)
        if customer is None:
            continue
        accesses = checks.customer_access(
            session,
            principal,
            customer,
            feature_ids=[grant.feature_id],
            with_usage=True,
            clock=FixedClock(now),
        )
        for access in accesses:
            if access.window is None:
                continue  # not metered: no usage to watch
            usage, limit = access.current_usage, access.usage_limit
            value = usage
            if config.threshold_type == "percentage":
                if limit is None:
                    continue  # unlimited: no percentage
                value = MONEY_CONTEXT.multiply(checks.usage_fraction(limit, usage), Decimal(100))
            out.append(Reading(customer_id, customer_id, access.window.start, value, usage, limit))
    return out


def readings(
    session: Session,
    setting: AlertSetting,
    config: thresholds.Config,
    now: datetime,
    customers: Collection[str] | None = None,
) -> list[Reading]:
    """The values ``setting`` watches at ``now`` (of ``customers`` only, when given)."""
    kind = setting.entity_type
    if kind == "wallet":
        wallet = session.get(Wallet, setting.entity_id)
        if wallet is None or wallet.wallet_status != "active":
            return []
        if customers is not None and wallet.customer_id not in customers:
            return []
        balance = wallet.credit_balance
        return [Reading(wallet.id, wallet.customer_id, NO_PERIOD, balance, balance)]
    if kind in ("subscription", "subscription_line_item"):
        line_item_id = None
        sub_id = setting.entity_id
        if kind == "subscription_line_item":
            item = session.get(SubscriptionLineItem, setting.entity_id)
            if item is None or item.status != "published":
                return []
            line_item_id, sub_id = item.id, item.subscription_id
        sub = session.get(Subscription, sub_id)
        if sub is None or not _live(sub, now):
            return []
        if customers is not None and sub.customer_id not in customers:
            return []
        spent = _spend(session, sub, now, line_item_id)
        if spent is None:
            return []
        start, total = spent
        return [Reading(setting.entity_id, sub.customer_id, start, total, total)]
    if kind == "entitlement_grant":
        return _entitlement_readings(session, setting, config, now, customers)
    return []


def _send(
    session: Session,
    setting: AlertSetting,
    config: thresholds.Config,
    reading: Reading,
    new: str,
    kind: str,
    now: datetime,
) -> str | None:
    """The webhook of a crossing or a recovery; its event type."""
    recovered = kind == thresholds.RECOVERED
    threshold = thresholds.crossed_threshold(config, new)
    entity = setting.entity_type
    if entity == "wallet":
        wallet = session.get(Wallet, setting.entity_id)
        if wallet is None:
            return None
        event_type = f"wallet.credit_balance.{'recovered' if recovered else 'dropped'}"
        notify.wallet_alert(session, event_type, wallet, setting.config, new)
        return event_type
    if entity in ("subscription", "subscription_line_item"):
        prefix = "spend" if entity == "subscription" else "line_item_spend"
        event_type = f"subscription.{prefix}.threshold_{'recovered' if recovered else 'reached'}"
        item_id = setting.entity_id if entity == "subscription_line_item" else None
        sub_id = setting.entity_id
        if item_id is not None:
            item = session.get(SubscriptionLineItem, item_id)
            sub_id = item.subscription_id if item is not None else ""
        sub = session.get(Subscription, sub_id)
        if sub is None:
            return None
        notify.spend_alert(
            session,
            event_type,
            sub,
            alert_type=ALERT_TYPES[entity],
            alert_status=new,
            spend=reading.amount,
            threshold=threshold,
            line_item_id=item_id,
            at=now,
        )
        return event_type
    event_type = f"entitlement.usage_threshold.{'recovered' if recovered else 'reached'}"
    grant = session.get(Entitlement, setting.entity_id)
    notify.entitlement_alert(
        session,
        event_type,
        environment_id=setting.environment_id,
        setting_id=setting.id,
        entitlement_id=setting.entity_id,
        feature_id=grant.feature_id if grant is not None else None,
        customer_id=reading.customer_id,
        alert_status=new,
        threshold_type=config.threshold_type,
        threshold=threshold,
        usage=reading.amount,
        usage_limit=reading.limit,
        period_start=reading.period_start,
        at=now,
    )
    return event_type


def evaluate_setting(
    session: Session,
    setting: AlertSetting,
    now: datetime,
    customers: Collection[str] | None = None,
) -> list[Fired]:
    """Moves ``setting``'s states to what its values say at ``now``, logging and sending each
    change; flushes, never commits. A change another run made first raises
    :class:`LostRace` (the caller rolls back: that run sent it)."""
    config = thresholds.loaded(setting.config)
    if not config.enabled or not setting.enabled or setting.status != "published":
        return []
    fired = []
    for reading in readings(session, setting, config, now, customers):
        new = thresholds.state(config, reading.value)
        row = repository.state_of(session, setting.id, reading.subject_id, reading.period_start)
        old = row.state if row is not None else "ok"
        kind = thresholds.change(old, new)
        if kind is None:
            continue
        if row is None:
            session.add(
                AlertState(
                    environment_id=setting.environment_id,
                    setting_id=setting.id,
                    subject_id=reading.subject_id,
                    period_start=reading.period_start,
                    state=new,
                    value=reading.value,
                    updated_at=now,
                )
            )
            session.flush()  # a racing insert fails here: the unique key
        elif not repository.move_state(session, row, old, new, reading.value):
            raise LostRace(setting.id)
        event_type = None
        if kind != thresholds.SOFTENED:
            event_type = _send(session, setting, config, reading, new, kind, now)
        session.add(
            AlertLog(
                environment_id=setting.environment_id,
                setting_id=setting.id,
                entity_type=setting.entity_type,
                entity_id=setting.entity_id,
                parent_entity_type=setting.parent_entity_type,
                parent_entity_id=setting.parent_entity_id,
                customer_id=reading.customer_id,
                alert_type=ALERT_TYPES.get(setting.entity_type, setting.entity_type),
                alert_status=new,
                previous_status=old,
                value=reading.value,
                period_start=reading.period_start,
                config=setting.config,
                event_type=event_type,
                created_at=now,
            )
        )
        fired.append(Fired(setting.id, reading.subject_id, old, new, event_type))
    session.flush()
    return fired


class LostRace(Exception):
    """Another run changed the setting's state first."""
