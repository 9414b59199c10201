"""The dashboard's overview: what a vendor looks at first, from the same services as the API.

* **MRR**, **due** and **overdue**: :mod:`meterline.analytics.kpis`.
* **Revenue by month**: the net amount of finalized invoice lines by the month the invoice
  was issued, which is ``POST /v1/analytics/revenue`` (billed policy, ``FINAL``) summed by
  month.
* **Usage per day** for the metered features whose daily values add up (SUM and COUNT),
  from the daily aggregates, all customers together: ``POST /v1/events/usage/meter`` with a
  ``DAY`` window and no customer.
* **Top customers** by revenue (the same twelve months) and by usage (the same thirty days).
* **Alerts in alarm now**: :func:`meterline.alerts.alarms.in_alarm`, the newest
  ``ALERTS_SHOWN`` and how many there are; shown to a caller who may read ``/v1/alerts``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.alerts import alarms
from meterline.analytics import kpis
from meterline.analytics import revenue as revenue_facts
from meterline.api.deps import require_vendor
from meterline.catalog import repository as catalog
from meterline.customers import service as customers
from meterline.kernel.errors import NotFound, PermissionDenied
from meterline.kernel.money import ZERO
from meterline.metering import service as metering
from meterline.metering.aggregations import DAY_US, aggregation_of
from meterline.metering.dashboard import meter_days_by_customer
from meterline.ui.charts import DailyChart, daily_chart

MONTHS = 12
USAGE_DAYS = 30
TOP = 5
MAX_CHARTED_FEATURES = 6
ALERTS_SHOWN = 10


@dataclass(frozen=True)
class MonthRevenue:
    currency: str
    chart: DailyChart  # one bar a month: the bar's day is the month's first


@dataclass(frozen=True)
class FeatureDays:
    name: str
    meter_id: str
    chart: DailyChart


@dataclass(frozen=True)
class TopCustomer:
    customer_id: str
    name: str
    external_id: str
    amount: Decimal
    unit: str  # a currency, or the feature's unit of usage


@dataclass(frozen=True)
class AlarmRow:
    alarm: alarms.Alarm
    customer_name: str
    href: str  # the dashboard page of the watched entity (its customer's), "" when none


@dataclass(frozen=True)
class AlarmPanel:
    rows: list[AlarmRow]
    total: int
    scanned_all: bool


@dataclass
class Overview:
    mrr: list[kpis.Amount]
    due: list[kpis.Amount]
    overdue: list[kpis.Amount]
    overdue_invoices: int
    revenue: list[MonthRevenue]
    usage: list[FeatureDays]
    top_by_revenue: list[TopCustomer]
    top_by_usage: dict[str, list[TopCustomer]] = field(default_factory=dict)
    alerts: AlarmPanel | None = None  # None: the caller may not read alerts
    first_month: date | None = None
    usage_start: date | None = None
    usage_end: date | None = None


def month_start(day: date, back: int = 0) -> date:
    """The first day of ``day``'s month, ``back`` months earlier."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _revenue_query(
    first: date, now: datetime, group_by: tuple[str, ...]
) -> revenue_facts.RevenueQuery:
    return revenue_facts.RevenueQuery(
        start=datetime.combine(first, time.min, UTC),
        end=now,
        granularity="day" if "customer_id" not in group_by else "total",
        status="FINAL",
        group_by=group_by,
    )


def revenue_by_month(
    session: Session, principal: Principal, first: date, now: datetime
) -> list[MonthRevenue]:
    report = revenue_facts.revenue(session, principal, _revenue_query(first, now, ()), now)
    months = [month_start(now.date(), back) for back in range(MONTHS - 1, -1, -1)]
    by_currency: dict[str, dict[date, Decimal]] = defaultdict(lambda: dict.fromkeys(months, ZERO))
    for row in report.rows:
        if row.day is None:
            continue
        month = month_start(row.day)
        if month in by_currency[row.group["currency"]]:
            by_currency[row.group["currency"]][month] += row.amounts["net_amount"]
    return [
        MonthRevenue(currency, daily_chart(sorted(values.items())))
        for currency, values in sorted(by_currency.items())
    ]


def _named(
    session: Session,
    principal: Principal,
    ranked: list[tuple[str, Decimal]],
    unit: str,
    by_id: bool,
) -> list[TopCustomer]:
    out = []
    for key, amount in ranked:
        try:
            customer = (
                customers.get_customer(session, principal, key)
                if by_id
                else customers.get_customer_by_external_id(session, principal, key)
            )
        except NotFound:  # usage of a customer not (or no longer) on record
            out.append(TopCustomer("", key, key, amount, unit))
            continue
        out.append(TopCustomer(customer.id, customer.name, customer.external_id, amount, unit))
    return out


def top_by_revenue(
    session: Session, principal: Principal, first: date, now: datetime
) -> list[TopCustomer]:
    query = _revenue_query(first, now, ("customer_id",))
    report = revenue_facts.revenue(session, principal, query, now)
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in report.rows:
        totals[row.group["customer_id"], row.group["currency"]] += row.amounts["net_amount"]
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    out = []
    for (customer_id, currency), amount in ranked:
        out.extend(_named(session, principal, [(customer_id, amount)], currency, by_id=True))
    return out


def usage_by_day(
    session: Session, principal: Principal, now: datetime
) -> tuple[list[FeatureDays], dict[str, list[TopCustomer]], date, date]:
    last = now.date()
    first = last - timedelta(days=USAGE_DAYS - 1)
    start = int(datetime.combine(first, time.min, UTC).timestamp()) * 1_000_000
    end = start + USAGE_DAYS * DAY_US
    days = [first + timedelta(days=i) for i in range(USAGE_DAYS)]
    query = catalog.FeatureQuery(feature_type="metered")
    features, _ = catalog.search_features(session, principal.environment_id, query, 100, 0)
    charts: list[FeatureDays] = []
    tops: dict[str, list[TopCustomer]] = {}
    for feature in features:
        if feature.meter_id is None or len(charts) >= MAX_CHARTED_FEATURES:
            continue
        meter = metering.get_meter(session, principal, feature.meter_id)
        spec = metering.meter_spec(meter)
        aggregation = aggregation_of(spec.aggregation_type)
        if (
            not aggregation.additive
            or not aggregation.foldable
            or spec.bucket_size
            or spec.group_by
        ):
            continue
        found = meter_days_by_customer(session, spec, start, end)
        per_day: dict[date, Decimal] = dict.fromkeys(days, ZERO)
        per_customer: dict[str, Decimal] = defaultdict(Decimal)
        for customer, values in found.items():
            for day_us, value in values.items():
                day = datetime.fromtimestamp(day_us / 1_000_000, UTC).date()
                if day in per_day:
                    per_day[day] += value
                    per_customer[customer] += value
        charts.append(FeatureDays(feature.name, meter.id, daily_chart(sorted(per_day.items()))))
        ranked = sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        unit = feature.unit_singular or "units"
        tops[feature.name] = _named(session, principal, ranked, unit, by_id=False)
    return charts, tops, first, last


def alarm_panel(session: Session, principal: Principal, now: datetime) -> AlarmPanel | None:
    """The alerts in alarm now, as ``/v1/alerts`` would let the caller read them."""
    try:
        require_vendor(principal, "read", "/v1/alerts/search")
    except PermissionDenied:
        return None
    found = alarms.in_alarm(session, principal, ALERTS_SHOWN, now)
    rows = []
    for alarm in found.items:
        name, href = "", ""
        if alarm.customer_id:
            try:
                customer = customers.get_customer(session, principal, alarm.customer_id)
            except NotFound:  # a customer no longer on record: no page to link
                pass
            else:
                # the customer's page shows its wallets and subscriptions
                name, href = customer.name or customer.external_id, f"/ui/customers/{customer.id}"
        rows.append(AlarmRow(alarm, name, href))
    return AlarmPanel(rows, found.total, found.scanned_all)


def overview(session: Session, principal: Principal, now: datetime | None = None) -> Overview:
    now = now or datetime.now(UTC)
    first_month = month_start(now.date(), MONTHS - 1)
    due, overdue, late = kpis.outstanding(session, principal, now)
    usage, top_usage, usage_start, usage_end = usage_by_day(session, principal, now)
    return Overview(
        mrr=kpis.mrr(session, principal, now),
        due=due,
        overdue=overdue,
        overdue_invoices=late,
        revenue=revenue_by_month(session, principal, first_month, now),
        usage=usage,
        top_by_revenue=top_by_revenue(session, principal, first_month, now),
        top_by_usage=top_usage,
        first_month=first_month,
        usage_start=usage_start,
        usage_end=usage_end,
        alerts=alarm_panel(session, principal, now),
    )
