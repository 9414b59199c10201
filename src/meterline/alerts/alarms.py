"""What is in alarm now: the settings whose stored state (``alert_states``) is not ``ok`` in
the current period of what they watch, as the evaluator last left it. Read-only: nothing is
evaluated here, so a page showing them costs a few queries, not a pricing run.

A state row is kept per period, and a new period starts at ``ok`` without a row of its own
(``evaluate.py``), so a row is current only when its period is the one holding ``now``:

* ``wallet``: always (no period), while the wallet is active;
* ``subscription`` / ``subscription_line_item``: the subscription's billing period at
  ``now``, while it is active or trialing;
* ``entitlement_grant``: the customer's usage window of the entitlement's feature at
  ``now``, while a live subscription grants it.

A disabled or deleted setting is never in alarm (the evaluator no longer watches it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.alerts import evaluate, repository, thresholds
from meterline.alerts.models import AlertSetting, AlertState
from meterline.customers.models import Customer
from meterline.entitlements import checks
from meterline.entitlements.models import Entitlement
from meterline.kernel.instants import FixedClock
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.wallets.models import Wallet

# The newest states read to find the current ones: bounds the page's cost however many
# stale states (of past periods) the environment holds.
MAX_SCANNED = 500


@dataclass(frozen=True)
class Alarm:
    setting_id: str
    entity_type: str
    entity_id: str
    alert_type: str
    customer_id: str | None
    state: str  # in_alarm, warning or info
    value: Decimal  # the watched value at the change (a percentage for a percentage setting)
    threshold_type: str
    condition: str | None  # of the level behind the state: below or above
    threshold: Decimal | None
    since: datetime  # when the setting entered this state


@dataclass(frozen=True)
class Alarms:
    items: list[Alarm]  # the most recently changed first, at most the limit asked for
    total: int  # how many are current (among the newest MAX_SCANNED states)
    scanned_all: bool  # False when MAX_SCANNED states were read and more may be current


def _live_subscription(session: Session, sub_id: str, now: datetime) -> Subscription | None:
    sub = session.get(Subscription, sub_id)
    if sub is None or subscriptions.effective_status(sub, now) not in ("active", "trialing"):
        return None
    return sub


def _current_customer(
    session: Session,
    principal: Principal,
    state: AlertState,
    setting: AlertSetting,
    now: datetime,
) -> tuple[bool, str | None]:
    """Whether ``state`` is of the current period of what ``setting`` watches; the
    customer it concerns."""
    kind = setting.entity_type
    if kind == "wallet":
        wallet = session.get(Wallet, setting.entity_id)
        if wallet is None or wallet.wallet_status != "active":
            return False, None
        return state.period_start == evaluate.NO_PERIOD, wallet.customer_id
    if kind in ("subscription", "subscription_line_item"):
        sub_id = setting.entity_id
        if kind == "subscription_line_item":
            item = session.get(SubscriptionLineItem, setting.entity_id)
            if item is None or item.status != "published":
                return False, None
            sub_id = item.subscription_id
        sub = _live_subscription(session, sub_id, now)
        if sub is None:
            return False, None
        period = subscriptions.effective_period(sub, now)
        return state.period_start == period.start, sub.customer_id
    if kind == "entitlement_grant":
        grant = session.get(Entitlement, setting.entity_id)
        customer = session.get(Customer, state.subject_id)
        if grant is None or grant.status != "published" or customer is None:
            return False, None
        accesses = checks.customer_access(
            session, principal, customer, feature_ids=[grant.feature_id], clock=FixedClock(now)
        )
        current = any(
            access.feature.type == "metered"
            and access.meter is not None
            and access.sources
            and checks.window_for(access, now).start == state.period_start
            for access in accesses
        )
        return current, customer.id
    return False, None


def _alarm(state: AlertState, setting: AlertSetting, customer_id: str | None) -> Alarm:
    config = thresholds.loaded(setting.config)
    level = next(
        (
            config.levels[name]
            for name in thresholds.LEVELS
            if thresholds.STATE_OF[name] == state.state and name in config.levels
        ),
        None,
    )
    return Alarm(
        setting_id=setting.id,
        entity_type=setting.entity_type,
        entity_id=setting.entity_id,
        alert_type=evaluate.ALERT_TYPES.get(setting.entity_type, setting.entity_type),
        customer_id=customer_id,
        state=state.state,
        value=state.value,
        threshold_type=config.threshold_type,
        condition=level.condition if level is not None else None,
        threshold=level.threshold if level is not None else None,
        since=state.updated_at,
    )


def in_alarm(
    session: Session, principal: Principal, limit: int, now: datetime | None = None
) -> Alarms:
    """The caller's environment's settings in a state other than ``ok`` now, the most
    recently changed first: at most ``limit`` of them, and how many there are."""
    now = now or datetime.now(UTC)
    rows = repository.states_not_ok(session, principal.environment_id, MAX_SCANNED)
    items: list[Alarm] = []
    total = 0
    for state, setting in rows:
        current, customer_id = _current_customer(session, principal, state, setting, now)
        if not current:
            continue
        total += 1
        if len(items) < limit:
            items.append(_alarm(state, setting, customer_id))
    return Alarms(items, total, scanned_all=len(rows) < MAX_SCANNED)
