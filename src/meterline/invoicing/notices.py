"""The billing clock's notices: ``invoice.payment.overdue`` for a finalized invoice still
owed after its due date, and ``subscription.renewal.due`` for an active subscription whose
current period ends within the lead time (``METERLINE_BILLING_RENEWAL_LEAD_SECONDS``).

Exactly once, through a marker written in the transaction of the outbox message:
``invoices.overdue_notified_at`` (once per invoice) and
``subscriptions.renewal_notified_period_end`` (once per period end). The clock locks the
rows of a chunk that still need a notice (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, which
re-checks a row once its other writer commits; SQLite: the write transaction), so two
clocks racing send each notice once. The marker is written also when no endpoint wants the
type, with no body built: a notice is for the moment it happens, as ``invoice.create.drafted``
is, and an endpoint subscribing later does not receive the backlog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from meterline.invoicing import compute, repository
from meterline.invoicing.models import Invoice
from meterline.kernel import calendar as periods
from meterline.subscriptions.models import Subscription
from meterline.webhooks import notify


@dataclass(frozen=True)
class Noticed:
    """Of one chunk: the rows marked (this clock took them), and the notices among them
    (a subscription that does not renew is marked with none)."""

    marked: int
    sent: int


def notify_overdue(session: Session, invoice_ids: Sequence[str], now: datetime) -> Noticed:
    """Reports those of the invoices still overdue and unreported at ``now``."""
    invoices = repository.lock_overdue_invoices(session, invoice_ids, now)
    for invoice in invoices:
        notify.invoice_overdue(session, invoice)
        _mark(invoice, "overdue_notified_at", now)
    return Noticed(len(invoices), len(invoices))


def notify_renewals(
    session: Session, subscription_ids: Sequence[str], now: datetime, lead: timedelta
) -> Noticed:
    """Sends ``subscription.renewal.due`` for those of the subscriptions whose current
    period ends within ``lead`` of ``now``, unnoticed yet, and that renew then (a
    subscription cancelled or ending at that period end has no renewal: it is marked with
    no message)."""
    subs = repository.lock_renewals_due(session, subscription_ids, now, lead)
    renewing = 0
    for sub in subs:
        period = periods.Period(sub.current_period_start, sub.current_period_end)
        if compute.next_period(sub, period) is not None:
            notify.subscription_renewal_due(session, sub)
            renewing += 1
        _mark(sub, "renewal_notified_period_end", sub.current_period_end)
    return Noticed(len(subs), renewing)


def _mark(row: Invoice | Subscription, marker: str, value: datetime) -> None:
    """Sets the clock's ``marker`` on ``row``: a note of the clock's, not a change of the
    row, so ``updated_at`` is written as it is (an update naming it sets no new one)."""
    setattr(row, marker, value)
    flag_modified(row, "updated_at")
