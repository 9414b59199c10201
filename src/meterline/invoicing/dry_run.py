"""What one run of the billing clock would bill at an instant, without billing it.

Each subscription's periods are closed, and each due draft finalized, exactly as
:func:`meterline.invoicing.clock.run_once` does, inside a transaction that is always rolled
back: the invoices, totals and statuses reported are the ones the real run would write, and
nothing is written. ``meterline bill --dry-run`` prints them.

Bounded: at most :data:`MAX_SUBSCRIPTIONS` subscriptions and as many drafts are simulated
(``more`` says when there were others), and at most :data:`MAX_PERIODS` periods of one
subscription (a ``--now`` far in the future can owe hundreds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.db.engine import Database
from meterline.invoicing import cycle as billing
from meterline.invoicing import repository
from meterline.invoicing.clock import _due
from meterline.kernel.money import decimal_text

MAX_SUBSCRIPTIONS = 1000
MAX_PERIODS = 1000


@dataclass(frozen=True)
class WouldInvoice:
    invoice_id: str  # rolled back: the id the real run writes differs
    customer_id: str
    period_start: datetime | None
    period_end: datetime | None
    currency: str
    total: Decimal
    status: str  # DRAFT, or FINALIZED when its grace is already over

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "currency": self.currency,
            "total": decimal_text(self.total),
            "status": self.status,
        }


@dataclass
class SubscriptionBill:
    subscription_id: str
    customer_id: str
    periods_closed: int = 0
    invoices: list[WouldInvoice] = field(default_factory=list)
    more_periods: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "customer_id": self.customer_id,
            "periods_closed": self.periods_closed,
            "more_periods": self.more_periods,
            "invoices": [i.as_dict() for i in self.invoices],
        }


@dataclass
class DryRun:
    now: datetime
    subscriptions: list[SubscriptionBill] = field(default_factory=list)
    finalized: list[WouldInvoice] = field(default_factory=list)
    more: bool = False

    @property
    def periods_closed(self) -> int:
        return sum(s.periods_closed for s in self.subscriptions)

    def totals(self) -> dict[str, Decimal]:
        """What the run would invoice per currency (the invoices its periods create)."""
        out: dict[str, Decimal] = {}
        for sub in self.subscriptions:
            for invoice in sub.invoices:
                out[invoice.currency] = out.get(invoice.currency, Decimal(0)) + invoice.total
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "now": self.now.isoformat(),
            "periods_closed": self.periods_closed,
            "invoices_finalized": len(self.finalized)
            + sum(1 for s in self.subscriptions for i in s.invoices if i.status == "FINALIZED"),
            "totals": {c: decimal_text(t) for c, t in sorted(self.totals().items())},
            "more": self.more,
            "subscriptions": [s.as_dict() for s in self.subscriptions],
            "drafts_finalized": [i.as_dict() for i in self.finalized],
        }


def _would(invoice: Any) -> WouldInvoice:
    return WouldInvoice(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=invoice.currency,
        total=invoice.total,
        status=invoice.invoice_status,
    )


def dry_run(db: Database, *, now: datetime, grace: timedelta) -> DryRun:
    """What :func:`~meterline.invoicing.clock.run_once` at ``now`` would bill; writes
    nothing (every transaction here is a rehearsal, which always rolls back)."""
    result = DryRun(now=now)
    with db.session(write=False) as session:
        due = repository.due_subscription_ids(session, now, MAX_SUBSCRIPTIONS + 1)
        drafts = [i.id for i in repository.due_for_finalization(session, now, MAX_SUBSCRIPTIONS)]
    result.more = len(due) > MAX_SUBSCRIPTIONS or len(drafts) == MAX_SUBSCRIPTIONS
    for subscription_id in due[:MAX_SUBSCRIPTIONS]:
        with db.rehearsal() as session:
            sub = repository.lock_subscription(session, subscription_id)
            if sub is None:
                continue
            bill = SubscriptionBill(subscription_id, sub.customer_id)
            while _due(sub, now):
                if bill.periods_closed == MAX_PERIODS:
                    bill.more_periods = True
                    break
                closed = billing.close_period(session, sub, now=now, grace=grace)
                bill.periods_closed += 1
                if closed.invoice is not None:
                    bill.invoices.append(_would(closed.invoice))
            result.subscriptions.append(bill)
    for invoice_id in drafts:
        with db.rehearsal() as session:
            invoice = repository.lock_invoice(session, invoice_id)
            if invoice is None or invoice.invoice_status != "DRAFT":
                continue
            billing.finalize_due(session, invoice, now=now)
            result.finalized.append(_would(invoice))
    return result
