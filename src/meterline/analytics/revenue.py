"""Revenue analytics: invoice lines as revenue facts, by day, by service period or in total.

Each line of a finalized invoice is a ``FINAL`` fact and each line of a draft a
``PROVISIONAL`` one; voided and skipped invoices bring none. A fact's amounts are the line's:
``usage_at_list_rate`` (its amount), ``line_discount``, ``invoice_discount`` (its share of
the invoice's discount) and ``net_amount`` (the amount less both), with ``billable_qty`` (its
quantity).

Where a fact falls in time is the allocation policy:

* ``billed`` (the default): the whole line on the day its invoice was issued (finalized; a
  draft: created), as a cash-basis report reads it;
* ``amortized``: spread over the line's service period, in proportion to the time of the
  period that falls on each UTC day (a line with no period stays on its billed day). The
  shares are cut from the running total, so they add up to the line to the last digit.

The range is whole UTC days, ``start_time``'s day to ``end_time``'s, both included (at most
``MAX_DAYS``). Rows are grouped by ``revenue_source`` (``usage``, ``fixed`` or ``one_off``),
``currency`` (amounts of two currencies never add up), the status, and the dimensions asked
for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import UTCDateTime
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.pricing.fields import choice

MAX_DAYS = 400
MAX_IDS = 100
GRANULARITIES = ("day", "period", "total")
POLICIES = ("billed", "amortized")
STATUSES = {"FINALIZED": "FINAL", "DRAFT": "PROVISIONAL"}
DIMENSIONS = (
    "revenue_source",
    "customer_id",
    "subscription_id",
    "price_id",
    "meter_id",
    "currency",
)
SOURCES = {"USAGE": "usage", "FIXED": "fixed"}
ZERO = Decimal(0)
_MICROSECOND = timedelta(microseconds=1)  # time shares in whole microseconds, no float
_AMOUNTS = ("usage_at_list_rate", "line_discount", "invoice_discount", "net_amount", "billable_qty")


@dataclass(frozen=True)
class RevenueQuery:
    start: datetime
    end: datetime | None
    granularity: str | None = None
    allocation_policy: str | None = None
    group_by: Sequence[str] = ()
    currency: str | None = None
    status: str | None = None
    customer_ids: Sequence[str] | None = None
    subscription_ids: Sequence[str] | None = None
    price_ids: Sequence[str] | None = None
    meter_ids: Sequence[str] | None = None


@dataclass
class Row:
    group: dict[str, str]
    status: str
    day: date | None = None
    period: tuple[datetime, datetime] | None = None
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(_AMOUNTS, ZERO))


@dataclass(frozen=True)
class Revenue:
    rows: list[Row]
    allocated: bool


def _days(q: RevenueQuery, now: datetime) -> tuple[date, date]:
    first = q.start.astimezone(UTC).date()
    last = (q.end or now).astimezone(UTC).date()
    if last < first:
        raise InvalidRequest("end_time must not be before start_time", field="end_time")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"the range spans more than {MAX_DAYS} days", field="end_time")
    return first, last


def _dimensions(group_by: Sequence[str]) -> list[str]:
    for name in group_by:
        if name not in DIMENSIONS:
            raise InvalidRequest(
                f"group_by {name!r} is not supported (supported: {', '.join(DIMENSIONS)})",
                field="group_by",
            )
    return [d for d in DIMENSIONS if d in {"revenue_source", "currency", *group_by}]


def _facts(
    session: Session,
    principal: Principal,
    q: RevenueQuery,
    days: tuple[date, date],
    amortized: bool,
) -> list[tuple[InvoiceLineItem, Invoice]]:
    """The lines whose revenue may fall in ``days``: billed in them or, amortized, serving
    a period that overlaps them."""
    lower = datetime.combine(days[0], time(), UTC)
    upper = datetime.combine(days[1] + timedelta(days=1), time(), UTC)
    billed = func.coalesce(
        Invoice.finalized_at, Invoice.issue_date, Invoice.created_at, type_=UTCDateTime()
    )
    in_range = and_(billed >= lower, billed < upper)
    if amortized:
        in_range = or_(
            in_range,
            and_(InvoiceLineItem.period_start < upper, InvoiceLineItem.period_end > lower),
        )
    stmt = (
        select(InvoiceLineItem, Invoice)
        .join(Invoice, Invoice.id == InvoiceLineItem.invoice_id)
        .where(
            Invoice.environment_id == principal.environment_id,
            Invoice.status == "published",
            InvoiceLineItem.status == "published",
            in_range,
        )
    )
    wanted = [s for s, fact in STATUSES.items() if q.status in (None, fact)]
    stmt = stmt.where(Invoice.invoice_status.in_(wanted))
    if q.currency:
        stmt = stmt.where(Invoice.currency == q.currency.lower())
    for column, ids, name in (
        (Invoice.customer_id, q.customer_ids, "customer_ids"),
        (InvoiceLineItem.subscription_id, q.subscription_ids, "subscription_ids"),
        (InvoiceLineItem.price_id, q.price_ids, "price_ids"),
        (InvoiceLineItem.meter_id, q.meter_ids, "meter_ids"),
    ):
        if ids:
            if len(ids) > MAX_IDS:
                raise InvalidRequest(f"{name} holds at most {MAX_IDS} ids", field=name)
            stmt = stmt.where(column.in_(list(ids)))
    rows = session.execute(stmt.order_by(Invoice.id, InvoiceLineItem.position)).tuples()
    return list(rows)


def _billed_day(invoice: Invoice) -> date:
    moment = invoice.finalized_at or invoice.issue_date or invoice.created_at
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def _shares(
    line: InvoiceLineItem, invoice: Invoice, amortized: bool
) -> Iterator[tuple[date, Decimal]]:
    """(day, fraction of the line) for each day the line's revenue falls on."""
    start, end = line.period_start, line.period_end
    if not amortized or start is None or end is None or end <= start:
        yield _billed_day(invoice), Decimal(1)
        return
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    whole = Decimal((end - start) // _MICROSECOND)
    day = start.date()
    while True:
        day_start = max(start, datetime.combine(day, time(), UTC))
        day_end = min(end, datetime.combine(day + timedelta(days=1), time(), UTC))
        if day_end <= day_start:
            return
        yield day, Decimal((day_end - day_start) // _MICROSECOND) / whole
        day += timedelta(days=1)


def _line_amounts(line: InvoiceLineItem) -> dict[str, Decimal]:
    return {
        "usage_at_list_rate": line.amount,
        "line_discount": line.line_item_discount,
        "invoice_discount": line.invoice_level_discount,
        "net_amount": line.amount - line.line_item_discount - line.invoice_level_discount,
        "billable_qty": line.quantity,
    }


@in_money_context
def revenue(session: Session, principal: Principal, q: RevenueQuery, now: datetime) -> Revenue:
    granularity = choice(q.granularity or "day", GRANULARITIES, "granularity")
    policy = choice(q.allocation_policy or "billed", POLICIES, "allocation_policy")
    if q.status is not None:
        choice(q.status, tuple(STATUSES.values()), "status")
    dimensions = _dimensions(q.group_by)
    first, last = _days(q, now)
    amortized = policy == "amortized"
    rows: dict[tuple[object, ...], Row] = {}
    # Shares are cut from the running total in the currency's minor units, so a line's
    # shares add up to the line exactly.
    for line, invoice in _facts(session, principal, q, (first, last), amortized):
        values = {
            "revenue_source": SOURCES.get(line.price_type or "", "one_off"),
            "customer_id": invoice.customer_id,
            "subscription_id": line.subscription_id or "",
            "price_id": line.price_id or "",
            "meter_id": line.meter_id or "",
            "currency": invoice.currency,
        }
        group = {d: values[d] for d in dimensions}
        status = STATUSES[invoice.invoice_status]
        starts, ends = (
            line.period_start or invoice.period_start,
            line.period_end or invoice.period_end,
        )
        period = (starts, ends) if starts is not None and ends is not None else None
        amounts = _line_amounts(line)
        digits = {k: minor_units(invoice.currency) for k in _AMOUNTS} | {"billable_qty": 12}
        so_far = ZERO
        cut = dict.fromkeys(_AMOUNTS, ZERO)
        shares = list(_shares(line, invoice, amortized))
        for i, (day, fraction) in enumerate(shares):
            so_far += fraction
            whole = Decimal(1) if i == len(shares) - 1 else min(so_far, Decimal(1))
            upto = {k: round_money(v * whole, digits[k]) for k, v in amounts.items()}
            share = {k: upto[k] - cut[k] for k in _AMOUNTS}
            cut = upto
            if not first <= day <= last:
                continue
            key: tuple[object, ...] = (tuple(group.items()), status)
            if granularity == "day":
                key += (day,)
            elif granularity == "period":
                key += (period,)
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(
                    group=group,
                    status=status,
                    day=day if granularity == "day" else None,
                    period=period if granularity == "period" else None,
                )
            for k in _AMOUNTS:
                row.amounts[k] += share[k]
    ordered = sorted(
        rows.values(),
        key=lambda r: (r.day or date.min, r.period or (), sorted(r.group.items()), r.status),
    )
    return Revenue(rows=ordered, allocated=amortized)
