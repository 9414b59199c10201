"""Run a catalog report: read the aggregate it names, sum it into the question's groups.

Billing reports are revenue analytics (``analytics/revenue.py``) with the ``billed``
allocation, read by day for a time series and in total otherwise; ``mrr`` is
``analytics/kpis.py``'s. Nothing here aggregates invoices or subscriptions itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.analytics import kpis, revenue
from meterline.analytics.report_catalog import MRR, REPORTS, ReportSpec
from meterline.analytics.report_query import (
    ReportInput,
    ReportQuery,
    Sums,
    Table,
    bucket,
    check,
    table,
)
from meterline.kernel.errors import NotFound

# Revenue-fact dimensions the revenue query groups by on request (the others it always does).
_GROUPED_ON_REQUEST = ("customer_id", "subscription_id", "price_id", "meter_id")


def report(key: str) -> ReportSpec:
    found = REPORTS.get(key)
    if found is None:
        raise NotFound("report", key)
    return found


def checked(key: str, q: ReportInput, now: datetime) -> ReportQuery:
    """Report ``key``'s question ``q``, checked (404 for an unknown key)."""
    return check(report(key), q, now.astimezone(UTC).date())


def _ids(q: ReportQuery, name: str) -> list[str] | None:
    """The ids a filter on ``name`` keeps: the revenue query narrows its facts to them."""
    values = q.filters.get(name)
    return None if values is None else sorted(values)


def _kept(q: ReportQuery, group: dict[str, str]) -> bool:
    return all(group.get(name) in values for name, values in q.filters.items())


def _revenue(session: Session, principal: Principal, q: ReportQuery, now: datetime) -> Sums:
    spec = q.spec
    if spec.amount is None:
        raise ValueError(f"report {spec.key} names no revenue amount")
    found = revenue.revenue(
        session,
        principal,
        revenue.RevenueQuery(
            start=datetime.combine(q.first, time(), UTC),
            end=datetime.combine(q.end - timedelta(days=1), time(), UTC),
            granularity="day" if q.shape == "timeseries" else "total",
            allocation_policy="billed",
            group_by=[d for d in _GROUPED_ON_REQUEST if d in q.dimensions or d in q.filters],
            status=spec.status,
            customer_ids=_ids(q, "customer_id"),
            subscription_ids=_ids(q, "subscription_id"),
            price_ids=_ids(q, "price_id"),
            meter_ids=_ids(q, "meter_id"),
        ),
        now=now,
    )
    sums = Sums()
    for row in found.rows:
        if not _kept(q, row.group):
            continue
        period = bucket(row.day, q.grain) if row.day is not None else None
        group = tuple(row.group[d] for d in q.dimensions)
        sums.add(period, group, row.amounts[spec.amount])
    return sums


def _mrr(session: Session, principal: Principal, q: ReportQuery, now: datetime) -> Sums:
    sums = Sums()
    for amount in kpis.mrr(session, principal, now):
        if _kept(q, {"currency": amount.currency}):
            sums.add(None, (amount.currency,), amount.value)
    return sums


def run(session: Session, principal: Principal, q: ReportQuery, now: datetime) -> Table:
    """The answer of the checked question ``q`` in the caller's environment."""
    if q.spec.source == MRR:
        return table(q, _mrr(session, principal, q, now), "subscriptions")
    return table(q, _revenue(session, principal, q, now), "invoices")
