"""Usage of licensed entitlements: reads, and reports from instances.

Reports are applied by the group-commit writer (``report_writer.py``): it locks each
counter of a batch, then folds the batch's reports into it one after the other with
:func:`apply_report`, exactly as if each report were its own transaction, so reports on one
counter are serialized and a limit holds under any concurrency. Every report, accepted or
refused, is written to the ledger in the same transaction: a refusal is an outcome, not an
error, so that its ledger row and any window rollover are committed with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.kernel import money
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.kernel.instants import SYSTEM_CLOCK, Clock
from meterline.licensing import repository, usage_store
from meterline.licensing.catalog import entitlement_types
from meterline.licensing.groups import get_group
from meterline.licensing.instances import get_instance
from meterline.licensing.models import UsageReport
from meterline.licensing.repository import CounterState, UsageContext
from meterline.licensing.usage import (
    Counter,
    Window,
    current_window,
    exceeds,
    fold,
    in_window,
)
from meterline.licensing.usage_store import AcceptedReport
from meterline.licensing.values import (
    NUMBER_TYPES,
    TypedValue,
    grant_value,
)


@dataclass(frozen=True)
class UsageView:
    """One instance's usage of one entitlement, next to its grant."""

    entitlement_id: str
    entitlement_slug: str
    entitlement_name: str | None
    entitlement_type: str
    license_id: str
    license_slug: str
    value: TypedValue
    limit: TypedValue | None
    window: Window
    behavior: str | None = None
    metadata: dict[str, Any] | None = None
    timestamp: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy, kept in the ledger so an idempotent replay answers the same."""
        return {
            "value": str(self.value.value),
            "event_count": self.value.event_count,
            "limit": None if self.limit is None else str(self.limit.value),
            "window_start": self.window.start.isoformat() if self.window.start else None,
            "window_end": self.window.end.isoformat() if self.window.end else None,
            "behavior": self.behavior,
            "metadata": self.metadata,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
        }


def _from_snapshot(context: UsageContext, snap: dict[str, Any]) -> UsageView:
    def moment(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    assert context.feature_id and context.feature_slug and context.license_id
    return UsageView(
        entitlement_id=context.feature_id,
        entitlement_slug=context.feature_slug,
        entitlement_name=None,
        entitlement_type="NUMBER",
        license_id=context.license_id,
        license_slug=context.license_slug or "",
        value=TypedValue("number", Decimal(snap["value"]), snap["event_count"]),
        limit=None if snap["limit"] is None else TypedValue("number", Decimal(snap["limit"])),
        window=Window(moment(snap["window_start"]), moment(snap["window_end"])),
        behavior=snap["behavior"],
        metadata=snap["metadata"],
        timestamp=moment(snap["timestamp"]),
    )


def _window(context: UsageContext, now: datetime) -> Window:
    return current_window(context.reset_period, context.reset_anchor, now, context.license_start)


def _view(
    context: UsageContext,
    entitlement_type: str,
    counter: CounterState | None,
    now: datetime,
    name: str | None = None,
) -> UsageView:
    assert context.feature_id and context.feature_slug and context.license_id
    limit = grant_value(
        entitlement_type,
        is_enabled=context.is_enabled,
        usage_limit=context.usage_limit,
        config_value=context.config_value,
    )
    base: dict[str, Any] = {
        "entitlement_id": context.feature_id,
        "entitlement_slug": context.feature_slug,
        "entitlement_name": name,
        "entitlement_type": entitlement_type,
        "license_id": context.license_id,
        "license_slug": context.license_slug or "",
    }
    if entitlement_type not in NUMBER_TYPES:
        return UsageView(**base, value=limit, limit=limit, window=Window(None, None))
    window = _window(context, now)
    stored = Counter(Decimal(0), 0)
    if counter is not None:
        stored = in_window(
            Counter(counter.value, counter.event_count), counter.window_start, window
        )
    return UsageView(
        **base,
        value=TypedValue("number", stored.value, stored.event_count),
        limit=limit,
        window=window,
        behavior=counter.last_behavior if counter else None,
        metadata=counter.last_metadata if counter else None,
        timestamp=counter.last_reported_at if counter else None,
    )


def read_usage(
    conn: Any,
    dialect: usage_store.Dialect,
    principal: Principal,
    instance_slug: str,
    entitlement_slug: str,
    clock: Clock = SYSTEM_CLOCK,
) -> UsageView:
    """The instance's usage of one entitlement next to its grant: one statement on the
    driver's connection ``conn``, read fresh (a grant changed through either API, or by
    another process, shows at once)."""
    found = usage_store.usage_row(
        conn, dialect, principal.environment_id, instance_slug, entitlement_slug
    )
    context = found.context
    if context.instance_id is None:
        raise NotFound("instance", instance_slug)
    if context.feature_id is None or found.entitlement_type is None:
        raise NotFound("entitlement", entitlement_slug)
    if context.grant_id is None:
        raise NotFound("entitlement assignment", entitlement_slug)
    return _view(context, found.entitlement_type, found.counter, clock.now())


def list_usage(
    session: Session, principal: Principal, instance_slug: str, clock: Clock = SYSTEM_CLOCK
) -> list[UsageView]:
    """One row per entitlement the instance's license grants."""
    instance = get_instance(session, principal, instance_slug)
    found = repository.licenses_of(session, [instance.license_id])[instance.license_id]
    pairs = repository.all_grants_of(session, found.id)
    counters = repository.counters_of(session, instance.id)
    types = entitlement_types(session, [f for _, f in pairs])
    now = clock.now()
    views = []
    for granted, feature in pairs:
        kind = types[feature.id]
        context = UsageContext(
            instance.id,
            instance.slug,
            instance.start_license_date,
            found.id,
            found.slug,
            feature.id,
            feature.lookup_key,
            feature.type,
            feature.usage_aggregation,
            feature.usage_reset_period,
            feature.usage_reset_anchor,
            granted.id,
            granted.is_enabled,
            granted.usage_limit,
            granted.overage_percent,
            granted.config_value,
        )
        views.append(_view(context, kind, counters.get(feature.id), now, feature.name))
    return views


def group_usage(
    session: Session, principal: Principal, group_slug: str, instance_slug: str
) -> list[UsageView | tuple[str, str, str, str]]:
    """Each member of the group: its usage where the instance is granted it, else its name."""
    group = get_group(session, principal, group_slug)
    members = repository.group_features(session, group.id)
    granted = {v.entitlement_id: v for v in list_usage(session, principal, instance_slug)}
    out: list[UsageView | tuple[str, str, str, str]] = []
    types = entitlement_types(session, members)
    for feature in members:
        if feature.id in granted:
            out.append(granted[feature.id])
        else:
            out.append((feature.id, feature.lookup_key, feature.name, types[feature.id]))
    return out


@dataclass(frozen=True)
class ReportOutcome:
    view: UsageView
    accepted: bool
    replayed: bool = False
    detail: str = ""


def check_reported_value(value: Decimal) -> Decimal:
    """A reported value within ``kernel.money``'s bounds (400 naming ``value.value`` else)."""
    reason = money.problem(value)
    if reason is not None:
        raise InvalidRequest(f"value.value {reason}", field="value.value")
    return value


@dataclass(frozen=True, slots=True)
class UsageReportRequest:
    """One report as a request hands it over: authorized, its value already checked."""

    environment_id: str
    key_id: str | None
    instance_slug: str
    entitlement_slug: str
    value: Decimal
    behavior: str
    metadata: dict[str, Any] | None
    transaction_id: str | None


@dataclass(frozen=True, slots=True)
class AppliedReport:
    """What one report does to its counter: the answer, the counter after it (None when
    unchanged), its ledger row (None when nothing is recorded: a replay), and the usage
    change webhooks are told about (None when the report was not accepted)."""

    outcome: ReportOutcome
    counter: CounterState | None
    ledger_row: dict[str, Any] | None
    usage_change: tuple[Decimal, Decimal] | None = None


def report_target(
    report: UsageReportRequest, context: UsageContext, entitlement_type: str | None
) -> tuple[str, str]:
    """The (instance id, feature id) of the counter ``report`` goes to, or the error it
    gets: the context must exist and the entitlement be a NUMBER."""
    if (
        context.instance_id is None
        or context.feature_id is None
        or context.grant_id is None
        or entitlement_type is None
    ):
        raise NotFound(
            "instance or entitlement",
            f"{report.instance_slug}/{report.entitlement_slug}",
        )
    if entitlement_type not in NUMBER_TYPES:
        raise InvalidRequest(
            f"Usage can only be reported for NUMBER entitlements, not {entitlement_type}",
            reason="unsupported_entitlement_type",
        )
    return context.instance_id, context.feature_id


def apply_report(
    report: UsageReportRequest,
    context: UsageContext,
    entitlement_type: str,
    locked: CounterState,
    earlier: AcceptedReport | None,
    now: datetime,
    held: Decimal = Decimal(0),
) -> AppliedReport:
    """Fold one report into its locked counter, or refuse it. Pure: ``locked`` is left as
    it is; the caller stores what comes back. ``earlier`` is the accepted report that used
    the report's transaction id, if any; ``held``, what the counter's live reservations
    hold: the limit holds for the counter and the holds together."""
    assert context.instance_id is not None and context.feature_id is not None
    behavior, reported = report.behavior, report.value
    if earlier is not None:
        if earlier.behavior != behavior or earlier.reported_value != reported:
            raise Conflict(
                f"transaction id {report.transaction_id} was used for another report",
                reason="transaction_id_reused",
                details={"transaction_id": report.transaction_id},
            )
        assert earlier.response is not None
        replay = ReportOutcome(_from_snapshot(context, earlier.response), True, replayed=True)
        return AppliedReport(replay, None, None)
    window = _window(context, now)
    old = in_window(Counter(locked.value, locked.event_count), locked.window_start, window)
    new = fold(context.aggregation, behavior, old, reported)
    if not money.within(new.value):
        # The counter would pass what its column holds: refused like a conflict with the
        # counter's state (nothing stored), never an overflow in the database.
        raise Conflict(
            f"Usage for {report.entitlement_slug} would pass the largest counter value"
            f" ({money.BOUND_TEXT})",
            reason="counter_out_of_range",
        )
    charged = money.MONEY_CONTEXT.add(new.value, held) if held else new.value
    refused = exceeds(charged, context.usage_limit, context.overage_percent)
    counter: CounterState | None
    if refused:
        counter = None
        if not window.is_lifetime and locked.window_start != window.start:
            # The rollover to the new window is kept even though the report is refused.
            counter = replace(locked, value=Decimal(0), event_count=0, window_start=window.start)
        view = _view(context, entitlement_type, counter or locked, now)
        outcome = ReportOutcome(
            view, False, detail=f"Usage for {report.entitlement_slug} exceeds the allowed threshold"
        )
    else:
        counter = CounterState(
            new.value, new.event_count, window.start, behavior, report.metadata, now
        )
        view = _view(context, entitlement_type, counter, now)
        outcome = ReportOutcome(view, True)
    keeps_id = not refused and report.transaction_id is not None
    ledger_row = {
        "environment_id": report.environment_id,
        "instance_id": context.instance_id,
        "feature_id": context.feature_id,
        "behavior": behavior,
        "reported_value": reported,
        "status": "REJECTED" if refused else "ACCEPTED",
        "previous_value": old.value,
        "resulting_value": new.value,
        "event_count": new.event_count,
        "window_start": window.start,
        "transaction_id": report.transaction_id if keeps_id else None,
        "metadata": report.metadata,
        "response": view.snapshot() if keeps_id else None,
        "key_id": report.key_id,
        "created_at": now,
    }
    change = None if refused else (old.value, new.value)
    return AppliedReport(outcome, counter, ledger_row, change)


def ledger(
    session: Session, principal: Principal, instance_slug: str, entitlement_slug: str, limit: int
) -> list[UsageReport]:
    """The reports of one counter, oldest first (for audits and tests)."""
    context = repository.usage_context(
        session, principal.environment_id, instance_slug, entitlement_slug
    )
    if context.instance_id is None or context.feature_id is None:
        raise NotFound("instance or entitlement", f"{instance_slug}/{entitlement_slug}")
    return repository.reports_of(session, context.instance_id, context.feature_id, limit)
