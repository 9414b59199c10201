"""Applying credit grants to wallets: the ``credit_grants`` job of ``runtime/jobs.py``.

Each tick walks the published grants and, for every subscription a grant applies to, credits
the customer's wallet (``wallets.service.wallet_for_credits``: the active PRE_PAID wallet in
the subscription's currency, opened if there is none) once for every period that is due
(``schedule.due_periods``), as a ``SUBSCRIPTION_CREDIT_GRANT`` top-up with the grant's
priority and the period's expiry. One transaction per (grant, subscription): the
applications rows and the ledger entries commit together. Exactly once per grant and
period, across runs and processes: the unique ``(credit_grant_id, subscription_id,
period_start)`` of ``credit_grant_applications`` (a racing run's insert fails and its whole
transaction rolls back) and the ledger's idempotency key on the same triple.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.credits import repository, schedule
from meterline.credits.models import CreditGrant, CreditGrantApplication
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.subscriptions.models import Subscription
from meterline.wallets import ledger
from meterline.wallets import service as wallets

log = logging.getLogger("meterline.credit_grants")
# Grants read per page of the walk.
PAGE = 200


@dataclass
class ApplyReport:
    applied: int = 0  # (grant, subscription, period) credited
    raced: int = 0  # transactions another run had already done
    failed: int = 0


def grant_terms(grant: CreditGrant) -> schedule.GrantTerms:
    return schedule.GrantTerms(
        cadence=grant.cadence,
        period=grant.period,
        period_count=grant.period_count,
        start_date=grant.start_date,
        end_date=grant.end_date,
        expiration_type=grant.expiration_type,
        expiration_duration=grant.expiration_duration,
        expiration_duration_unit=grant.expiration_duration_unit,
    )


def subscription_terms(sub: Subscription) -> schedule.SubscriptionTerms:
    ends = [d for d in (sub.end_date, sub.cancel_at) if d is not None]
    return schedule.SubscriptionTerms(
        start_date=sub.start_date,
        end=min(ends) if ends else None,
        billing_anchor=sub.billing_anchor,
        billing_period=sub.billing_period,
        billing_period_count=sub.billing_period_count,
        timezone=sub.timezone,
    )


def terms_for(
    session: Session, grant: CreditGrant, sub: Subscription
) -> schedule.SubscriptionTerms | None:
    """The subscription's terms for ``grant``: an ADDON grant's are cut to when the
    subscription had the add-on (None: it never had it)."""
    terms = subscription_terms(sub)
    if grant.scope != "ADDON":
        return terms
    window = repository.addon_window(session, grant, sub)
    if window is None:
        return None
    start, end = window
    ends = [d for d in (terms.end, end) if d is not None]
    return replace(terms, start_date=max(terms.start_date, start), end=min(ends) if ends else None)


def apply_due(
    session: Session,
    grant: CreditGrant,
    sub: Subscription,
    now: datetime,
    after: datetime | None,
) -> int:
    """Credits every period of ``grant`` due for ``sub`` at ``now`` (after ``after``, the
    last one applied); returns how many. Flushes, never commits."""
    terms, sub_terms = grant_terms(grant), terms_for(session, grant, sub)
    if sub_terms is None:
        return 0
    due = schedule.due_periods(terms, sub_terms, now, after=after)
    if not due:
        return 0
    wallet = wallets.wallet_for_credits(session, sub.environment_id, sub.customer_id, sub.currency)
    for period in due:
        entry = ledger.credit(
            session,
            wallet,
            grant.credits,
            reason="SUBSCRIPTION_CREDIT_GRANT",
            description=grant.name,
            expiry=schedule.expiry(terms, sub_terms, period.start),
            priority=grant.priority,
            idempotency_key=f"cg:{grant.id}:{sub.id}:{period.start.isoformat()}",
            metadata={"credit_grant_id": grant.id, "subscription_id": sub.id},
            now=now,
            reference_type="EXTERNAL",
            reference_id=grant.id,
        )
        session.add(
            CreditGrantApplication(
                environment_id=grant.environment_id,
                credit_grant_id=grant.id,
                subscription_id=sub.id,
                customer_id=sub.customer_id,
                period_start=period.start,
                period_end=period.end if period.end > period.start else None,
                credits=grant.credits,
                wallet_id=wallet.id,
                wallet_transaction_id=entry.id,
            )
        )
    session.flush()
    return len(due)


def run_once(
    db: Database, now: datetime | None = None, stop: threading.Event | None = None
) -> ApplyReport:
    """One pass over every published grant at ``now``."""
    now = now or utcnow()
    report = ApplyReport()
    after_id: str | None = None
    while stop is None or not stop.is_set():
        with db.session(write=False) as session:
            grants = repository.live_grants(session, after_id=after_id, limit=PAGE)
            # Only the pairs with a period due take a write transaction (on SQLite, the
            # database's one writer).
            work = [
                (grant.id, sub.id, applied.get(sub.id))
                for grant in grants
                for applied in [repository.last_applied(session, grant.id)]
                for sub in repository.receiving_subscriptions(session, grant)
                for sub_terms in [terms_for(session, grant, sub)]
                if sub_terms is not None
                and schedule.due_periods(
                    grant_terms(grant),
                    sub_terms,
                    now,
                    after=applied.get(sub.id),
                    limit=1,
                )
            ]
            after_id = grants[-1].id if grants else None
        if after_id is None:
            break
        for grant_id, sub_id, after in work:
            _apply_one(db, grant_id, sub_id, now, after, report)
    return report


def _apply_one(
    db: Database,
    grant_id: str,
    sub_id: str,
    now: datetime,
    after: datetime | None,
    report: ApplyReport,
) -> None:
    try:
        with db.session() as session:
            grant = session.get(CreditGrant, grant_id)
            sub = session.get(Subscription, sub_id)
            if grant is None or sub is None or grant.status != "published":
                return
            # Re-read under the write transaction: a racing run may have applied meanwhile.
            latest = repository.last_applied(session, grant_id).get(sub_id, after)
            report.applied += apply_due(session, grant, sub, now, latest)
    except IntegrityError:
        report.raced += 1  # another run applied these periods first: nothing twice
    except Exception:
        report.failed += 1
        log.exception("credit grant %s: applying to %s failed", grant_id, sub_id)


class CreditGrantJob:
    """The grants' application as a job (``runtime/jobs.py``), ticking with the billing
    clock's interval (``METERLINE_BILLING_INTERVAL_SECONDS``; 0 = off)."""

    name = "credit_grants"
    run_at_start = True
    wakeup: threading.Event | None = None

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self.stopping = threading.Event()

    def run_once(self, now: datetime | None = None) -> ApplyReport:
        report = run_once(self.db, now, self.stopping)
        if report.applied or report.failed:
            log.info("credit grants: %s", report)
        return report

    def close(self) -> None:
        pass
