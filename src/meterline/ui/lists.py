"""The dashboard's lists (invoices, subscriptions, plans, wallets, licenses, instances): one page of rows through the same
searches as the API, with the filters, sort and page the page's form asks for. Every value
from the query string is checked against a closed set before it reaches a search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.api.deps import require_vendor
from meterline.api.flexprice.common import SearchFilter
from meterline.api.kaiten.common import require_module
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.invoicing import service as invoices
from meterline.invoicing.models import INVOICE_STATUSES, PAYMENT_STATUSES
from meterline.licensing import listing
from meterline.licensing.models import INSTANCE_STATUSES, LIFECYCLE_STATES, Instance, License
from meterline.pricing import plans
from meterline.pricing.models import Plan, Price
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.service import SUBSCRIPTION_STATUSES
from meterline.wallets import service as wallets
from meterline.wallets.models import WALLET_STATUSES, Wallet

PAGE_SIZE = 25
MAX_QUERY = 255
INVOICE_SORTS = ("created_at", "due_date", "invoice_number", "period_start")
SUBSCRIPTION_SORTS = ("created_at", "start_date", "current_period_end")
PLAN_SORTS = ("created_at", "name")
WALLET_SORTS = ("created_at", "credit_balance")
LICENSE_SORTS = tuple(listing.LICENSE_SORTS)
INSTANCE_SORTS = tuple(listing.INSTANCE_SORTS)
# A search by customer looks at most this many matching customers' wallets.
MAX_CUSTOMERS_MATCHED = 200
MAX_CHOICES = 100
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
    currency: str = ""
    license: str = ""

    def link(self, page: int) -> dict[str, Any]:
        return {
            "q": self.query,
            "status": self.status,
            "payment": self.payment,
            "currency": self.currency,
            "license": self.license,
            "sort": self.sort,
            "order": self.order,
            "page": page,
        }


def state(
    query: str,
    status: str,
    payment: str,
    sort: str,
    order: str,
    page: int,
    sorts: Sequence[str],
    *,
    currency: str = "",
    license_id: str = "",
) -> ListState:
    """The page's state, with anything not offered by the form dropped to its default."""
    return ListState(
        query=query.strip()[:MAX_QUERY],
        status=status,
        payment=payment,
        sort=sort if sort in sorts else "created_at",
        order=order if order in ORDERS else "desc",
        page=max(1, page),
        currency=currency,
        license=license_id,
    )


@dataclass
class Listed:
    rows: list[Any]
    total: int
    state: ListState
    names: dict[str, str]
    # what a filter offers beyond a fixed set (the wallets' currencies, the licenses)
    choices: list[Any] = field(default_factory=list)

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


@dataclass(frozen=True)
class WalletRow:
    wallet: Wallet
    customer: Customer | None
    credit_balance: Decimal  # usable now (grants expired but not yet entered left out)
    balance: Decimal  # the credits in the wallet's currency


def _customers_matching(session: Session, principal: Principal, query: str) -> list[str]:
    """The customers a search names: its external id exactly, or its name by substring."""
    exact, _ = customers.search_customers(session, principal, limit=1, offset=0, external_id=query)
    by_name, _ = customers.search_customers(
        session,
        principal,
        limit=MAX_CUSTOMERS_MATCHED,
        offset=0,
        filters=[SearchFilter(field="name", operator="contains", value={"string": query})],
    )
    return sorted({c.id for c in exact} | {c.id for c in by_name})


def _owners(session: Session, principal: Principal, ids: list[str]) -> dict[str, Customer]:
    if not ids:
        return {}
    found, _ = customers.search_customers(
        session, principal, limit=len(ids), offset=0, customer_ids=sorted(set(ids))
    )
    return {c.id: c for c in found}


def wallet_list(session: Session, principal: Principal, s: ListState) -> Listed:
    """Wallets as ``/v1/wallets`` would let the caller read them."""
    require_vendor(principal, "read", "/v1/wallets")
    currencies = wallets.wallet_currencies(session, principal, MAX_CHOICES)
    found, total = wallets.search_wallets(
        session,
        principal,
        limit=PAGE_SIZE,
        offset=_offset(s),
        customer_ids=_customers_matching(session, principal, s.query) if s.query else None,
        wallet_status=s.status if s.status in WALLET_STATUSES else None,
        currency=s.currency if s.currency in currencies else None,
        sort=s.sort,
        order=s.order,
    )
    by_id = _owners(session, principal, [w.customer_id for w in found])
    rows = []
    for wallet in found:
        usable = wallets.balance(session, wallet)
        rows.append(
            WalletRow(wallet, by_id.get(wallet.customer_id), usable.credit_balance, usable.balance)
        )
    return Listed(rows, total, s, {}, currencies)


@dataclass(frozen=True)
class LicenseRow:
    license: License
    instances: int


def license_list(session: Session, principal: Principal, s: ListState) -> Listed:
    """Licenses as ``/api/licenses`` would let the caller read them, with their instances."""
    require_module(principal, "read", "licenses")
    found, total = listing.search_licenses(
        session,
        principal.environment_id,
        query=s.query,
        state=s.status if s.status in LIFECYCLE_STATES else None,
        sort=s.sort,
        ascending=s.order == "asc",
        limit=PAGE_SIZE,
        offset=_offset(s),
    )
    counts = listing.instance_counts(session, [lic.id for lic in found])
    return Listed([LicenseRow(lic, counts.get(lic.id, 0)) for lic in found], total, s, {})


@dataclass(frozen=True)
class InstanceRow:
    instance: Instance
    customer: Customer | None
    license: License | None
    machines: int
    last_heartbeat: datetime | None
    last_report: datetime | None


def instance_list(session: Session, principal: Principal, s: ListState) -> Listed:
    """Instances as ``/api/instances`` would let the caller read them, with what they have
    done lately: machines, last heartbeat, last usage report."""
    require_module(principal, "read", "instances")
    offered, _ = listing.search_licenses(
        session,
        principal.environment_id,
        query="",
        state=None,
        sort="name",
        ascending=True,
        limit=MAX_CHOICES,
        offset=0,
    )
    licenses_by_id = {lic.id: lic for lic in offered}
    found, total = listing.search_instances(
        session,
        principal.environment_id,
        query=s.query,
        status=s.status if s.status in INSTANCE_STATUSES else None,
        license_id=s.license if s.license in licenses_by_id else None,
        sort=s.sort,
        ascending=s.order == "asc",
        limit=PAGE_SIZE,
        offset=_offset(s),
    )
    by_id = _owners(session, principal, [i.customer_id for i in found])
    held = listing.licenses_of(session, principal.environment_id, [i.license_id for i in found])
    activity = listing.activity_of(session, [i.id for i in found])
    rows = [
        InstanceRow(
            i,
            by_id.get(i.customer_id),
            held.get(i.license_id),
            activity[i.id].machines,
            activity[i.id].last_heartbeat,
            activity[i.id].last_report,
        )
        for i in found
    ]
    return Listed(rows, total, s, {}, offered)
