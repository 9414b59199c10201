"""Cost analytics: what the environment's metered usage cost the vendor over a period,
priced by the active cost sheet, against the revenue its invoices earned in that period.

* The period is whole UTC days: ``start`` 's day through the day of the last instant
  before ``end`` (at most ``MAX_DAYS``); by default the seven days up to now.
* Cost: each USAGE price of the active cost sheet applied, by its charge model
  (``pricing.charge_models``, as an invoice line applies it: per event, per bucket or on the
  period's total), to its meter's usage over the period, from the same aggregates invoices
  read. The usage is the whole environment's (a supplier bills the vendor's total usage,
  so tiers apply to it), or one customer's when ``external_customer_id`` is given. Each
  price's cost is rounded once to its currency's minor units.
* Revenue: the finalized invoices' net revenue (after discounts, before tax) amortized over
  the days of the period (``analytics.revenue``, policy ``amortized``), in the cost sheet's
  currency; the one customer's only when ``external_customer_id`` is given.
* ``margin`` = revenue − cost; ``margin_percent`` = margin / revenue × 100; ``roi`` =
  margin / cost; ``roi_percent`` = roi × 100 (``Margins``): a ratio whose denominator is
  zero is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.analytics import revenue as revenue_facts
from meterline.analytics.usage import metered_features
from meterline.catalog import repository as catalog
from meterline.catalog.models import Meter
from meterline.costs import service as costsheets
from meterline.costs.models import Costsheet
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.invoicing.usage_loader import priced_event_values
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.kernel.instants import to_micros
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.metering.backend import usage_reader
from meterline.metering.query import UsageQuery
from meterline.metering.service import meter_spec
from meterline.pricing.charge_models import (
    bucketed_amount,
    events_amount,
    model_of_price,
    price_amount,
)
from meterline.pricing.models import Price

DEFAULT_RANGE = timedelta(days=7)
MAX_DAYS = revenue_facts.MAX_DAYS
ZERO = Decimal(0)
HUNDRED = Decimal(100)
RATIO_DIGITS = 4
PERCENT_DIGITS = 2


@dataclass(frozen=True)
class CostAnalyticsQuery:
    start: datetime | None = None
    end: datetime | None = None
    external_customer_id: str | None = None
    feature_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class Margins:
    margin: Decimal
    margin_percent: Decimal | None
    roi: Decimal | None
    roi_percent: Decimal | None


@dataclass(frozen=True)
class CostItem:
    price: Price
    meter: Meter
    quantity: Decimal
    cost: Decimal


@dataclass(frozen=True)
class CostAnalytics:
    costsheet: Costsheet
    start: datetime
    end: datetime
    currency: str
    customer: Customer | None
    items: list[CostItem]
    total_cost: Decimal
    total_revenue: Decimal
    margins: Margins


@in_money_context
def margins(cost: Decimal, revenue: Decimal) -> Margins:
    """The derived figures of a cost and a revenue (each None when it would divide by 0)."""
    margin = revenue - cost
    roi = round_money(margin / cost, RATIO_DIGITS) if cost else None
    return Margins(
        margin=margin,
        margin_percent=round_money(margin * HUNDRED / revenue, PERCENT_DIGITS) if revenue else None,
        roi=roi,
        roi_percent=round_money(margin * HUNDRED / cost, PERCENT_DIGITS) if cost else None,
    )


def period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The whole UTC days ``[first midnight, midnight after the last day)`` of the request."""
    last_instant = end or now
    first_instant = start or last_instant - DEFAULT_RANGE
    if last_instant <= first_instant:
        raise InvalidRequest("end_time must be after start_time", field="end_time")
    first = first_instant.astimezone(UTC).date()
    last = (last_instant - timedelta(microseconds=1)).astimezone(UTC).date()
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"the period spans more than {MAX_DAYS} days", field="end_time")
    return (
        datetime.combine(first, time(), tzinfo=UTC),
        datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    )


@in_money_context
def price_cost(
    session: Session,
    price: Price,
    meter: Meter,
    customer: str | None,
    start: datetime,
    end: datetime,
) -> tuple[Decimal, Decimal]:
    """(quantity, unrounded cost) of the meter's usage over ``[start, end)`` under ``price``."""
    model = model_of_price(price)
    if model.per_event:
        values = priced_event_values(session, meter, customer, start, end)
        return sum(values, ZERO), events_amount(model, values)
    query = UsageQuery(
        meter=meter_spec(meter), start=to_micros(start), end=to_micros(end), customer=customer
    )
    result = usage_reader(session).query(session.connection(), query)
    if meter.bucket_size or meter.group_by:
        buckets = (
            [b.value for b in result.buckets]
            if meter.bucket_size
            else [g.value for g in result.groups]
        )
        return sum(buckets, ZERO), bucketed_amount(model, buckets)
    return result.value, price_amount(model, result.value)


def _currency(sheet: Costsheet, prices: Sequence[Price]) -> str:
    currencies = sorted({p.currency.lower() for p in prices})
    if not currencies:
        raise InvalidOperation(
            "the active cost sheet has no prices", details={"costsheet_id": sheet.id}
        )
    if len(currencies) > 1:
        raise InvalidOperation(
            "the active cost sheet's prices are in several currencies",
            details={"costsheet_id": sheet.id, "currencies": currencies},
        )
    return currencies[0]


def cost_analytics(
    session: Session, principal: Principal, q: CostAnalyticsQuery, now: datetime
) -> CostAnalytics:
    start, end = period(q.start, q.end, now)
    sheet = costsheets.active_costsheet(session, principal)
    prices = costsheets.prices(session, [sheet])[sheet.id]
    currency = _currency(sheet, prices)
    customer = None
    if q.external_customer_id:
        customer = customers.get_customer_by_external_id(session, principal, q.external_customer_id)
    if q.feature_ids:
        meter_ids = {f.meter_id for f in metered_features(session, principal, q.feature_ids)}
        prices = [p for p in prices if p.meter_id in meter_ids]
    digits = minor_units(currency)
    items = []
    for price in prices:
        meter = catalog.meter(session, principal.environment_id, price.meter_id or "")
        if meter is None:
            continue  # a USAGE price always names a meter of its environment
        external = customer.external_id if customer else None
        quantity, amount = price_cost(session, price, meter, external, start, end)
        items.append(CostItem(price, meter, quantity, round_money(amount, digits)))
    earned = revenue_facts.revenue(
        session,
        principal,
        revenue_facts.RevenueQuery(
            start=start,
            end=end - timedelta(days=1),
            granularity="total",
            allocation_policy="amortized",
            currency=currency,
            status="FINAL",
            customer_ids=[customer.id] if customer else None,
        ),
        now,
    )
    total_revenue = sum((row.amounts["net_amount"] for row in earned.rows), ZERO)
    total_cost = sum((i.cost for i in items), ZERO)
    return CostAnalytics(
        costsheet=sheet,
        start=start,
        end=end,
        currency=currency,
        customer=customer,
        items=items,
        total_cost=total_cost,
        total_revenue=total_revenue,
        margins=margins(total_cost, total_revenue),
    )
