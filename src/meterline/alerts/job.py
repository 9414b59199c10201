"""The alerts job (``runtime/jobs.py``): fires alerts as events arrive, and by a scan.

* **As events arrive**: the ingest writer, once a batch has committed, hands its rows to
  :meth:`AlertJob.touch`. That looks each row's customer up in an in-memory index of the
  customers some enabled setting watches (a dict lookup per distinct customer of the batch;
  nothing at all while no setting is enabled), marks the ones found and wakes the job,
  which evaluates only the settings of the marked customers, for those customers only, at
  most once per ``MIN_GAP_SECONDS`` (the marks of a burst are evaluated together).
* **As balances change**: a wallet's ledger entry announces its customer after the commit
  (``runtime/changes.py``); :meth:`AlertJob.touch_customers` marks it the same way.
* **By a scan**: every ``scan_seconds`` the job evaluates every enabled setting (what the
  hooks cannot see: a new billing period, a change made by another process).
* When a setting changes in this process (``changed``, after the commit) the job scans at
  once; the index is rebuilt at every scan (settings changed by other processes, new
  subscriptions).

Each setting is evaluated in a transaction of its own (``evaluate.evaluate_setting``), so
one that fails or loses a race to another process rolls back alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.alerts import evaluate, repository
from meterline.alerts.models import AlertSetting
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.entitlements.models import Entitlement
from meterline.metering.ingest import EventRow
from meterline.subscriptions.models import Subscription, SubscriptionLineItem
from meterline.wallets.models import Wallet

log = logging.getLogger("meterline.alerts")
# Seconds between polls for marked customers (the ingest hook wakes the job at once).
POLL_SECONDS = 1.0
# At least this many seconds between two evaluations of marked customers: under steady
# ingest the batches of a second are evaluated together, once, so the evaluations' CPU stays
# a small share of what ingest needs (one process's GIL serves both).
MIN_GAP_SECONDS = 1.0

# Bumped after a commit that changed a setting in this process; the job rebuilds its index.
_version = 0
_version_lock = threading.Lock()
wakeup = threading.Event()

# (environment id, external customer id) → the (setting id, customer id) pairs watching it
Index = dict[tuple[str, str], frozenset[tuple[str, str]]]
# (environment id, customer id) → the (environment id, external customer id) key of Index
ById = dict[tuple[str, str], tuple[str, str]]


def changed(session: Session) -> None:
    """A setting changed in ``session``: once it commits, the job reindexes and runs."""
    if not session.info.get("alert_settings_listener"):
        session.info["alert_settings_listener"] = True
        event.listen(session, "after_commit", _bump)


def _bump(session: Session) -> None:
    global _version
    session.info.pop("alert_settings_listener", None)
    with _version_lock:
        _version += 1
    wakeup.set()


def _customers_of(session: Session, setting: AlertSetting) -> set[str]:
    kind, entity_id = setting.entity_type, setting.entity_id
    if kind == "wallet":
        wallet = session.get(Wallet, entity_id)
        return {wallet.customer_id} if wallet is not None else set()
    if kind == "subscription":
        sub = session.get(Subscription, entity_id)
        return {sub.customer_id} if sub is not None else set()
    if kind == "subscription_line_item":
        item = session.get(SubscriptionLineItem, entity_id)
        return {item.customer_id} if item is not None else set()
    if kind == "entitlement_grant":
        grant = session.get(Entitlement, entity_id)
        if grant is None:
            return set()
        env = setting.environment_id
        if grant.entity_type == "PLAN":
            subs = repository.live_subscriptions_of(session, env, plan_id=grant.entity_id)
        else:
            subs = repository.live_subscriptions_of(session, env, subscription_id=grant.entity_id)
        return {s.customer_id for s in subs}
    return set()


def build_index(session: Session, settings: Sequence[AlertSetting]) -> tuple[Index, ById]:
    pairs: list[tuple[AlertSetting, str]] = [
        (setting, customer_id)
        for setting in settings
        for customer_id in sorted(_customers_of(session, setting))
    ]
    external = repository.external_ids(session, sorted({c for _s, c in pairs}))
    index: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    by_id: ById = {}
    for setting, customer_id in pairs:
        if customer_id in external:
            key = (setting.environment_id, external[customer_id])
            index[key].add((setting.id, customer_id))
            by_id[(setting.environment_id, customer_id)] = key
    return {key: frozenset(value) for key, value in index.items()}, by_id


@dataclass
class AlertReport:
    evaluated: int = 0
    fired: int = 0
    raced: int = 0
    failed: int = 0
    scanned: bool = False
    events: list[evaluate.Fired] = field(default_factory=list)


class AlertJob:
    name = "alerts"
    run_at_start = True

    def __init__(
        self,
        db: Database,
        scan_seconds: float,
        *,
        poll: float = POLL_SECONDS,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        self.db = db
        self.min_gap = min_gap
        self._last_marked_run: float | None = None
        self.scan = timedelta(seconds=scan_seconds)
        self.interval = min(poll, scan_seconds) if scan_seconds > 0 else 0.0
        self.wakeup: threading.Event | None = wakeup
        self.stopping = threading.Event()
        self._index: Index = {}
        self._by_id: ById = {}
        self._indexed_version = -1
        self._last_scan: datetime | None = None
        self._marked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # -- the ingest hook ------------------------------------------------------------------

    def touch(self, rows: Iterable[EventRow]) -> None:
        """After a batch of events committed: mark the watched customers it touched."""
        index = self._index  # one read of the reference: swapped whole on rebuild
        if not index:
            return
        keys = {(row.environment_id, row.external_customer_id) for row in rows}
        hits = [key for key in keys if key in index]
        if hits:
            with self._lock:
                self._marked.update(hits)
            if self.wakeup is not None:
                self.wakeup.set()

    def touch_customers(self, changed: Iterable[tuple[str, str]]) -> None:
        """After a commit that changed these (environment id, customer id) customers."""
        by_id = self._by_id
        if not by_id:
            return
        hits = [by_id[pair] for pair in changed if pair in by_id]
        if hits:
            with self._lock:
                self._marked.update(hits)
            if self.wakeup is not None:
                self.wakeup.set()

    # -- one tick -------------------------------------------------------------------------

    def _reindex(self) -> list[AlertSetting]:
        version = _version
        with self.db.session(write=False) as session:
            settings = repository.enabled_settings(session)
            self._index, self._by_id = build_index(session, settings)
            for setting in settings:
                session.expunge(setting)
        self._indexed_version = version
        return settings

    def _evaluate(
        self, setting_id: str, now: datetime, customers: set[str] | None, report: AlertReport
    ) -> None:
        try:
            with self.db.session(write=True) as session:
                found = repository.enabled_settings(session, [setting_id])
                if not found:
                    return
                setting = found[0]
                fired = evaluate.evaluate_setting(session, setting, now, customers)
            report.evaluated += 1
            report.fired += len(fired)
            report.events.extend(fired)
        except (evaluate.LostRace, IntegrityError):
            report.raced += 1  # another process sent this change
        except Exception:
            report.failed += 1
            log.exception("alert setting %s: evaluation failed", setting_id)

    def run_once(self, now: datetime | None = None) -> AlertReport:
        """Evaluates the settings of the customers marked since the last tick, and every
        enabled setting when a scan is due."""
        injected = now is not None
        now = now or utcnow()
        report = AlertReport()
        # A setting changed in this process (rare): its new thresholds are evaluated at once,
        # by a scan, as the settings it may have replaced.
        scan_due = (
            self._last_scan is None
            or now - self._last_scan >= self.scan
            or self._indexed_version != _version
        )
        settings: list[AlertSetting] = []
        if scan_due:
            settings = self._reindex()
        elif self._last_marked_run is not None:
            rest = self.min_gap - (time.monotonic() - self._last_marked_run)
            if rest > 0 and self.stopping.wait(rest):
                return report
            if not injected:
                now = utcnow()  # what arrived while waiting counts
        self._last_marked_run = time.monotonic()
        with self._lock:
            marked, self._marked = self._marked, set()
        if scan_due:
            report.scanned = True
            self._last_scan = now
            for setting in settings:
                if self.stopping.is_set():
                    break
                self._evaluate(setting.id, now, None, report)
            return report
        wanted: dict[str, set[str]] = defaultdict(set)
        for key in marked:
            for setting_id, customer_id in self._index.get(key, ()):
                wanted[setting_id].add(customer_id)
        for setting_id in sorted(wanted):
            self._evaluate(setting_id, now, wanted[setting_id], report)
        return report

    def close(self) -> None:
        pass
