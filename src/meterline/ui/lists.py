"""The dashboard's lists (invoices, subscriptions, plans): one page of rows through the same
searches as the API, with the filters, sort and page the page's form asks for. Every value
from the query string is checked against a closed set before it reaches a search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.api.flexprice.common import SearchFilter
from meterline.invoicing import service as invoices
from meterline.invoicing.models import INVOICE_STATUSES, PAYMENT_STATUSES
from meterline.pricing import plans
from meterline.pricing.models import Plan, Price
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.service import SUBSCRIPTION_STATUSES

PAGE_SIZE = 25
MAX_QUERY = 255
INVOICE_SORTS = ("created_at", "due_date", "invoice_number", "period_start")
SUBSCRIPTION_SORTS = ("created_at", "start_date", "current_period_end")
PLAN_SORTS = ("created_at", "name")
ORDERS = ("desc", "asc")


@dataclass(frozen=True)
class ListState:
    """What the page was asked for, kept in the links to the other pages."""

    query: str = ""
    status: str = ""
    payment: str = ""
    sort: str = "created_at"
    order: str = "desc"
    page: int = 1

    def link(self, page: int) -> dict[str, Any]:
        return {
            "q": self.query,
            "status": self.status,
            "payment": self.payment,
            "sort": self.sort,
            "order": self.order,
            "page": page,
        }


def state(
    query: str, status: str, payment: str, sort: str, order: str, page: int, sorts: Sequence[str]
) -> ListState:
    """The page's state, with anything not offered by the form dropped to its default."""
    return ListState(
        query=query.strip()[:MAX_QUERY],
        status=status,
        payment=payment,
        sort=sort if sort in sorts else "created_at",
        order=order if order in ORDERS else "desc",
        page=max(1, page),
    )


@dataclass
class Listed:
    rows: list[Any]
    total: int
    state: ListState
    names: dict[str, str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _offset(s: ListState) -> int:
    return (s.page - 1) * PAGE_SIZE


def invoice_list(session: Session, principal: Principal, s: ListState) -> Listed:
    filters: dict[str, Any] = {"sort": s.sort, "order": s.order}
    if s.status in INVOICE_STATUSES:
        filters["invoice_status"] = [s.status]
    if s.payment in PAYMENT_STATUSES:
        filters["payment_status"] = [s.payment]
    if s.query:
        filters["filters"] = [
            SearchFilter(field="invoice_number", operator="contains", value={"string": s.query})
        ]
    rows, total = invoices.search_invoices(
        session, principal, limit=PAGE_SIZE, offset=_offset(s), **filters
    )
    return Listed(rows, total, s, {})


def subscription_list(session: Session, principal: Principal, s: ListState) -> Listed:
    statuses = [s.status] if s.status in SUBSCRIPTION_STATUSES else None
    rows: Sequence[Subscription]
    rows, total = subscriptions.search_subscriptions(
        session,
        principal,
        limit=PAGE_SIZE,
        offset=_offset(s),
        subscription_statuses=statuses,
        sort=s.sort,
        order=s.order,
    )
    names = {pid: plan.name for pid, plan in subscriptions.plans_of(session, rows).items()}
    return Listed(list(rows), total, s, names)


@dataclass(frozen=True)
class PlanRow:
    plan: Plan
    prices: list[Price]


def plan_list(session: Session, principal: Principal, s: ListState) -> Listed:
    filters: dict[str, Any] = {"sort": s.sort, "order": s.order}
    if s.query:
        filters["filters"] = [
            SearchFilter(field="name", operator="contains", value={"string": s.query})
        ]
    found, total = plans.search_plans(
        session, principal, limit=PAGE_SIZE, offset=_offset(s), **filters
    )
    prices: dict[str, list[Price]] = {p.id: [] for p in found}
    for price in plans.plan_prices(session, principal, [p.id for p in found]):
        prices.setdefault(price.entity_id, []).append(price)
    return Listed([PlanRow(p, prices[p.id]) for p in found], total, s, {})
