"""What each dashboard page shows, gathered from the domain services in one read
transaction. No SQL here; every list is bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts import tenants
from meterline.accounts.principal import Principal
from meterline.api.flexprice.common import SearchFilter
from meterline.catalog.models import Feature
from meterline.credit_notes import service as credit_notes
from meterline.credit_notes.models import CreditNote
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.entitlements import checks
from meterline.invoicing import pdf
from meterline.invoicing import service as invoices
from meterline.invoicing.models import Invoice
from meterline.kernel.errors import NotFound
from meterline.licensing import instances as licensing_instances
from meterline.licensing import reporting
from meterline.metering.aggregations import aggregation_of
from meterline.metering.service import UsageParams, usage_by_meter
from meterline.portal.service import PortalCaller
from meterline.pricing import plans as pricing_plans
from meterline.pricing.models import Plan
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription
from meterline.ui.charts import DailyChart, daily_chart, progress_percent
from meterline.wallets import service as wallets
from meterline.wallets.models import Wallet, WalletTransaction

PAGE_SIZE = 25
CHART_DAYS = 30
MAX_ROWS = 50
MAX_INSTANCES_SCANNED = 500


@dataclass
class CustomerList:
    items: list[Customer]
    total: int
    page: int
    query: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def customer_list(session: Session, principal: Principal, query: str, page: int) -> CustomerList:
    """Customers, newest first; ``query`` matches the external id exactly or the name or
    email by substring."""
    page = max(1, page)
    offset = (page - 1) * PAGE_SIZE
    query = query.strip()[:255]
    if not query:
        items, total = customers.search_customers(
            session, principal, limit=PAGE_SIZE, offset=offset, sort="created_at", order="desc"
        )
        return CustomerList(list(items), total, page, query)
    exact, _ = customers.search_customers(session, principal, limit=1, offset=0, external_id=query)
    by_name, name_total = customers.search_customers(
        session,
        principal,
        limit=PAGE_SIZE,
        offset=offset,
        filters=[
            SearchFilter(field="name", operator="contains", value={"string": query}),
        ],
    )
    seen = {c.id for c in by_name}
    items = [c for c in exact if c.id not in seen] + list(by_name)
    return CustomerList(items, name_total + len(items) - len(by_name), page, query)


@dataclass
class FeatureUsage:
    feature: Feature
    chart: DailyChart
    # Daily values of SUM and COUNT meters add up to a total; MAX or unique counts do not.
    additive: bool


@dataclass
class EntitlementRow:
    name: str
    lookup_key: str | None
    kind: str
    enabled: bool
    usage: Decimal
    limit: Decimal | None
    soft: bool
    percent: int
    resets: datetime | None


@dataclass
class WalletView:
    wallet: Wallet
    ledger: list[WalletTransaction]


@dataclass
class InstanceRow:
    slug: str
    name: str
    license: str
    usage: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CustomerPage:
    customer: Customer
    usage: list[FeatureUsage]
    chart_start: date
    chart_end: date
    entitlements: list[EntitlementRow]
    subscriptions: list[Subscription]
    plan_names: dict[str, str]
    invoices: list[Invoice]
    wallets: list[WalletView]
    instances: list[InstanceRow]
    # What the subscribe form offers: the environment's plans (at most MAX_ROWS).
    plans: list[Plan] = field(default_factory=list)


def _days(end: datetime) -> list[date]:
    last = end.date()
    return [last - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]


def customer_page(
    session: Session, principal: Principal, customer_id: str, now: datetime | None = None
) -> CustomerPage:
    customer = customers.get_customer(session, principal, customer_id)
    now = now or datetime.now(UTC)
    days = _days(now)
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC)

    access = checks.customer_access(session, principal, customer, with_usage=True)
    usage: list[FeatureUsage] = []
    rows: list[EntitlementRow] = []
    for item in access:
        limit = item.usage_limit if item.feature.type == "metered" else None
        rows.append(
            EntitlementRow(
                name=item.feature.name,
                lookup_key=item.feature.lookup_key,
                kind=item.feature.type,
                enabled=item.is_enabled,
                usage=item.current_usage,
                limit=limit,
                soft=item.is_soft_limit,
                percent=progress_percent(item.current_usage, limit),
                resets=item.window.end if item.window else None,
            )
        )
        if item.meter is None:
            continue
        params = UsageParams(
            start=start,
            end=end,
            customer=customer.external_id,
            window="DAY",
            timezone="UTC",
            billing_anchor=None,
            filters=None,
        )
        _, result = usage_by_meter(session, principal, item.meter.id, params)
        by_day = {
            datetime.fromtimestamp(w.start / 1_000_000, UTC).date(): w.value for w in result.windows
        }
        usage.append(
            FeatureUsage(
                item.feature,
                daily_chart([(d, by_day.get(d, Decimal(0))) for d in days]),
                aggregation_of(item.meter.aggregation_type).additive,
            )
        )

    subs, _ = subscriptions.search_subscriptions(
        session, principal, limit=MAX_ROWS, offset=0, customer_id=customer.id
    )
    plans = subscriptions.plans_of(session, subs)
    found_invoices, _ = invoices.search_invoices(
        session, principal, limit=MAX_ROWS, offset=0, customer_id=customer.id
    )
    plans_offered, _ = pricing_plans.search_plans(
        session, principal, limit=MAX_ROWS, offset=0, sort="name", order="asc"
    )
    wallet_views = []
    for wallet in wallets.customer_wallets(session, principal, customer.id)[:10]:
        ledger, _ = wallets.transactions(session, principal, wallet.id, limit=20, offset=0)
        wallet_views.append(WalletView(wallet, ledger))
    return CustomerPage(
        customer=customer,
        usage=usage,
        chart_start=days[0],
        chart_end=days[-1],
        entitlements=rows,
        subscriptions=list(subs),
        plan_names={pid: plan.name for pid, plan in plans.items()},
        invoices=list(found_invoices),
        wallets=wallet_views,
        instances=_instances_of(session, principal, customer),
        plans=plans_offered,
    )


def _instances_of(session: Session, principal: Principal, customer: Customer) -> list[InstanceRow]:
    out = []
    for view in licensing_instances.list_instances(session, principal, MAX_INSTANCES_SCANNED, 0):
        if view.customer.id != customer.id:
            continue
        usage = []
        for item in reporting.list_usage(session, principal, view.instance.slug):
            value = item.value.value if isinstance(item.value.value, Decimal) else None
            limit = (
                item.limit.value if item.limit and isinstance(item.limit.value, Decimal) else None
            )
            if limit is not None and limit < 0:  # -1 = unlimited on the licensing surface
                limit = None
            usage.append(
                {
                    "entitlement": item.entitlement_slug,
                    "value": value,
                    "limit": limit,
                    "percent": progress_percent(value or Decimal(0), limit),
                }
            )
        out.append(InstanceRow(view.instance.slug, view.instance.name, view.license.slug, usage))
    return out


@dataclass
class PortalPage:
    """What a customer sees of itself on the portal: the dashboard's customer page, its
    credit notes, and who bills it."""

    page: CustomerPage
    credit_notes: list[CreditNote]
    seller: tenants.Seller
    logo_url: str | None
    expires_at: datetime


def portal_page(session: Session, caller: PortalCaller) -> PortalPage:
    page = customer_page(session, caller.principal, caller.customer.id)
    organization, profile = tenants.own_tenant(session, caller.principal.organization_id)
    return PortalPage(
        page=page,
        credit_notes=credit_notes.customer_credit_notes(
            session, caller.principal, caller.customer.id, MAX_ROWS
        ),
        seller=tenants.seller_of(organization, profile),
        logo_url=profile.logo if profile else None,
        expires_at=caller.expires_at,
    )


def portal_invoice_pdf(
    session: Session, caller: PortalCaller, invoice_id: str
) -> tuple[Invoice, bytes]:
    """An invoice of the portal's customer as a PDF; another customer's, or a draft (the
    portal shows none), is not found."""
    invoice = invoices.get_invoice(session, caller.principal, invoice_id)
    if invoice.customer_id != caller.customer.id or invoice.invoice_status == "DRAFT":
        raise NotFound("invoice", invoice_id)
    return pdf.invoice_pdf(session, caller.principal, invoice_id)
