"""``meterline demo``: a realistic environment to look at, built through the services.

It creates a fresh environment with a key, a catalog (API calls, storage, exports, SSO),
three plans with a flat fee, tiered usage prices and entitlements, a self-hosted license
with one instance, a few hundred customers subscribed a month ago, a month of events
written through the event store in big batches, then runs the billing clock so the first
period of every subscription is invoiced, and leaves one wallet's low-balance alert in alarm.
Everything it makes lives in its own environment, so it can run any number of times beside
real data.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.accounts import service as accounts
from meterline.accounts.principal import FULL_ACCESS, Principal
from meterline.alerts import evaluate as alert_evaluation
from meterline.alerts import service as alerts
from meterline.alerts import thresholds
from meterline.api.flexprice.prices import PriceIn
from meterline.catalog import service as catalog
from meterline.catalog.commands import CreateFeature, CreateMeter
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer
from meterline.db.engine import Database
from meterline.entitlements import service as entitlements
from meterline.entitlements.commands import CreateEntitlement
from meterline.invoicing import payment_status
from meterline.invoicing import service as invoices
from meterline.invoicing.clock import RunReport, run_once
from meterline.invoicing.lines import LineDraft
from meterline.licensing import grants as license_grants
from meterline.licensing import instances as licensing_instances
from meterline.licensing import licenses
from meterline.licensing.report_writer import ReportWriter
from meterline.licensing.reporting import UsageReportRequest
from meterline.licensing.values import TypedValue
from meterline.metering.backend import event_store
from meterline.metering.ingest import EventRow
from meterline.pricing import plans, prices
from meterline.settings import Settings
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.commands import CreateSubscription
from meterline.wallets import service as wallets

BATCH = 20_000
FIRST_NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
SECOND_NAMES = ("Labs", "Systems", "Cloud", "Analytics", "Robotics", "Health", "Logistics")


@dataclass(frozen=True)
class PlanSpec:
    name: str
    lookup_key: str
    fee: str
    calls_limit: int | None
    storage_limit: int | None
    sso: bool
    share: float  # of customers
    # (up_to, unit amount per call) slabs for the API calls past the included ones
    tiers: list[tuple[int | None, str]]


# The API-calls entitlement is the plan's included usage (a soft limit: calls past it are
# served and billed); the tiers price what is past it.
PLANS = (
    PlanSpec("Starter", "starter", "29", 10_000, 10, False, 0.55, [(None, "0.002")]),
    PlanSpec(
        "Growth",
        "growth",
        "99",
        50_000,
        100,
        True,
        0.35,
        [(150_000, "0.0015"), (None, "0.001")],
    ),
    PlanSpec("Scale", "scale", "499", 500_000, None, True, 0.10, [(None, "0.0008")]),
)


@dataclass
class DemoResult:
    environment_id: str
    api_key: str
    customers: int
    events: int
    report: RunReport
    invoices_by_plan: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    top_customers: list[tuple[str, str, Decimal]] = field(default_factory=list)
    collections: Counter[str] = field(default_factory=Counter)


def _principal(db: Database) -> tuple[Principal, str]:
    with db.session() as session:
        account = accounts.ensure_default_account(session)
        owner = Principal(
            organization_id=account.organization.id,
            environment_id=account.environment.id,
            key_id="demo",
            user_id=account.user.id,
            scopes=frozenset({FULL_ACCESS}),
        )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        env = accounts.create_environment(session, owner, f"demo {stamp}", "development")
        api_key, plaintext = accounts.create_api_key(
            session,
            organization_id=account.organization.id,
            environment_id=env.id,
            user_id=account.user.id,
            name="demo",
        )
        principal = Principal(
            organization_id=account.organization.id,
            environment_id=env.id,
            key_id=api_key.id,
            user_id=account.user.id,
            scopes=frozenset({FULL_ACCESS}),
        )
    return principal, plaintext


def _catalog(db: Database, principal: Principal) -> dict[str, Any]:
    with db.session() as session:
        calls = catalog.create_feature(
            session,
            principal,
            CreateFeature(
                name="API calls",
                type="metered",
                lookup_key="api_calls",
                unit_singular="call",
                unit_plural="calls",
                meter=CreateMeter(
                    name="API calls",
                    event_name="api_request",
                    aggregation_type="SUM",
                    field="calls",
                ),
            ),
        )
        storage = catalog.create_feature(
            session,
            principal,
            CreateFeature(
                name="Storage (GB)",
                type="metered",
                lookup_key="storage_gb",
                meter=CreateMeter(
                    name="Storage",
                    event_name="storage_snapshot",
                    aggregation_type="MAX",
                    field="gb",
                ),
            ),
        )
        exports = catalog.create_feature(
            session,
            principal,
            CreateFeature(
                name="Exports",
                type="metered",
                lookup_key="exports",
                meter=CreateMeter(name="Exports", event_name="export", aggregation_type="COUNT"),
            ),
        )
        sso = catalog.create_feature(
            session, principal, CreateFeature(name="SSO", type="boolean", lookup_key="sso")
        )
        made = {}
        for spec in PLANS:
            plan = plans.create_plan(session, principal, name=spec.name, lookup_key=spec.lookup_key)
            base = {
                "entity_type": "PLAN",
                "entity_id": plan.id,
                "price_unit_type": "FIAT",
                "currency": "usd",
                "billing_period": "MONTHLY",
                "billing_period_count": 1,
            }
            tiers = [
                {"up_to": up_to, "unit_amount": amount} if up_to else {"unit_amount": amount}
                for up_to, amount in spec.tiers
            ]
            prices.create_prices(
                session,
                principal,
                [
                    PriceIn.model_validate(body).command()
                    for body in (
                        {
                            **base,
                            "type": "FIXED",
                            "billing_model": "FLAT_FEE",
                            "amount": spec.fee,
                            "invoice_cadence": "ADVANCE",
                            "display_name": f"{spec.name} plan",
                        },
                        {
                            **base,
                            "type": "USAGE",
                            "billing_model": "TIERED",
                            "tier_mode": "SLAB",
                            "tiers": tiers,
                            "meter_id": calls.meter_id,
                            "invoice_cadence": "ARREAR",
                            "display_name": "API calls",
                        },
                    )
                ],
                bulk=True,
            )
            grants = [
                CreateEntitlement(
                    plan_id=plan.id,
                    feature_id=calls.id,
                    feature_type="metered",
                    usage_limit=spec.calls_limit,
                    usage_reset_period="MONTHLY",
                    is_soft_limit=True,
                ),
                CreateEntitlement(
                    plan_id=plan.id,
                    feature_id=storage.id,
                    feature_type="metered",
                    usage_limit=spec.storage_limit,
                    usage_reset_period="MONTHLY",
                ),
                CreateEntitlement(
                    plan_id=plan.id,
                    feature_id=exports.id,
                    feature_type="metered",
                    usage_limit=None,
                    usage_reset_period="MONTHLY",
                ),
                CreateEntitlement(
                    plan_id=plan.id, feature_id=sso.id, feature_type="boolean", is_enabled=spec.sso
                ),
            ]
            entitlements.create_entitlements(session, principal, grants, bulk=True)
            made[spec.lookup_key] = plan
        license_ = licenses.create_license(
            session,
            principal,
            name="Self-hosted Enterprise",
            description="On-premises deployment",
            license_type="PAID",
            is_default=True,
            version_name="2026.1",
            slug="enterprise",
            family_slug=None,
            family_id=None,
            lifecycle_state="PUBLISHED",
        )
        license_grants.create_grant(
            session,
            principal,
            license_.slug,
            "api_calls",
            TypedValue("number", Decimal(1_000_000)),
            None,
        )
        license_grants.create_grant(
            session, principal, license_.slug, "sso", TypedValue("boolean", True), None
        )
    return {"plans": made, "license": license_}


def _customers(
    db: Database, principal: Principal, made: dict[str, Any], count: int, start: datetime
) -> list[tuple[str, str, str, float]]:
    """Creates ``count`` customers, each subscribed to a plan from ``start``; returns
    (customer id, external id, plan key, activity) per customer."""
    rng = random.Random(7)
    out = []
    weights = [spec.share for spec in PLANS]
    with db.session() as session:
        for index in range(count):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SECOND_NAMES)} {index + 1:03d}"
            external_id = f"demo-{index + 1:04d}"
            customer = customers.create_customer(
                session,
                principal,
                CreateCustomer(
                    external_id=external_id, name=name, email=f"billing@{external_id}.example"
                ),
            )
            spec = rng.choices(PLANS, weights)[0]
            subscriptions.create_subscription(
                session,
                principal,
                CreateSubscription(
                    customer_id=customer.id,
                    plan_id=made[spec.lookup_key].id,
                    currency="usd",
                    billing_period="MONTHLY",
                    start_date=start,
                ),
            )
            # Usage grows with the plan; a long tail of light users.
            # Every plan's free tier is passed by most customers, so invoices carry overages.
            scale = {"starter": 500, "growth": 2_400, "scale": 20_000}[spec.lookup_key]
            out.append((customer.id, external_id, spec.lookup_key, scale * rng.paretovariate(2.5)))
    return out


def _events(
    environment_id: str, population: list[tuple[str, str, str, float]], start: datetime, days: int
) -> Iterator[EventRow]:
    rng = random.Random(11)
    for customer_id, external_id, _plan, activity in population:
        for day in range(days):
            moment = start + timedelta(days=day)
            weekday = 0.45 if moment.weekday() >= 5 else 1.0
            for hour in range(0, 24, 3):
                calls = max(0, int(rng.gauss(activity / 8, activity / 24) * weekday))
                if calls == 0:
                    continue
                at = moment + timedelta(hours=hour, minutes=rng.randrange(180))
                yield _row(
                    environment_id, external_id, customer_id, "api_request", at, {"calls": calls}
                )
            gb = round(activity / 400 * (1 + day / days), 1)
            yield _row(
                environment_id, external_id, customer_id, "storage_snapshot", moment, {"gb": gb}
            )
            if rng.random() < 0.3:
                at = moment + timedelta(hours=rng.randrange(24))
                yield _row(environment_id, external_id, customer_id, "export", at, {})


def _row(
    environment_id: str,
    external_id: str,
    customer_id: str,
    name: str,
    at: datetime,
    properties: dict[str, Any],
) -> EventRow:
    micros = int(at.timestamp() * 1_000_000)
    return EventRow(
        environment_id=environment_id,
        event_id=f"{external_id}-{name}-{micros}",
        event_name=name,
        external_customer_id=external_id,
        customer_id=customer_id,
        timestamp=micros,
        source="demo",
        properties=properties,
        properties_json=json.dumps(properties, separators=(",", ":")),
    )


def _batches(rows: Iterator[EventRow], size: int) -> Iterator[list[EventRow]]:
    batch: list[EventRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(
    db: Database,
    settings: Settings,
    *,
    customer_count: int = 300,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Builds the demo environment; ``progress(stage, done, total)`` reports as it goes."""
    report_progress = progress or (lambda _s, _d, _t: None)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Subscriptions began a month and a day ago, so their first period has ended.
    start = (now - timedelta(days=31)).replace(hour=0)
    days = (now - start).days
    principal, key = _principal(db)
    made = _catalog(db, principal)
    report_progress("catalog", 1, 1)
    population = _customers(db, principal, made["plans"], customer_count, start)
    report_progress("customers", customer_count, customer_count)
    with db.session() as session:
        terms = licensing_instances.InstanceTerms(
            name="Acme on-prem (production)",
            description="",
            customer_id=population[0][0],
            license_id=made["license"].id,
            start_license_date=start,
            end_license_date=start + timedelta(days=365),
        )
        licensing_instances.create_instance(session, principal, terms, slug="acme-prod")
    store = event_store(db.dialect, settings.events)
    # Events per customer ≈ days × (8 call slots + 1 snapshot + 0.3 exports).
    estimate = len(population) * days * 9
    written = 0
    for batch in _batches(_events(principal.environment_id, population, start, days), BATCH):
        with db.session() as session:
            store.insert(session.connection(), batch)
        written += len(batch)
        report_progress("events", written, max(estimate, written))
    report_progress("events", written, written)
    report = run_once(db, now=now, grace=timedelta(0))
    _finalize_opening_invoices(db, principal)
    report_progress("billing", 1, 1)
    collected = _collections(db, principal, population, now)
    _wallets(db, principal, population, now)
    _low_balance_alert(db, principal, population[0][0], now)
    _instance_usage(db, principal, now)
    report_progress("collections", 1, 1)
    result = DemoResult(principal.environment_id, key, len(population), written, report)
    result.collections = collected
    _summarise(db, principal, population, result)
    return result


def _finalize_opening_invoices(db: Database, principal: Principal) -> None:
    """Opening (in-advance) invoices are finalized on request only; the demo requests it,
    as a vendor sending them would."""
    with db.session() as session:
        while True:
            drafts, _ = invoices.search_invoices(
                session, principal, limit=1000, offset=0, invoice_status=["DRAFT"]
            )
            if not drafts:
                return
            for draft in drafts:
                invoices.finalize(session, draft)


def _collections(
    db: Database, principal: Principal, population: list[tuple[str, str, str, float]], now: datetime
) -> Counter[str]:
    """What a month of collections looks like: most invoices paid, some due, some overdue,
    a few voided, and one-off drafts not yet sent. Returns how many of each."""
    rng = random.Random(13)
    outcome: Counter[str] = Counter()
    with db.session() as session:
        offset = 0
        finalized: list[str] = []
        while True:
            page, total = invoices.search_invoices(
                session, principal, limit=1000, offset=offset, invoice_status=["FINALIZED"]
            )
            finalized.extend(i.id for i in page)
            offset += len(page)
            if not page or offset >= total:
                break
        for index, invoice_id in enumerate(sorted(finalized)):
            draw = rng.random()
            if index % 20 == 3:  # one in twenty, so even a small demo has some
                invoices.void_invoice(session, principal, invoice_id)
                outcome["voided"] += 1
            elif draw < 0.6:
                payment_status.update_payment_status(
                    session, principal, invoice_id, payment_status="SUCCEEDED"
                )
                outcome["paid"] += 1
            elif draw < 0.75:
                late = now - timedelta(days=rng.randrange(1, 20))
                invoices.update_invoice(session, principal, invoice_id, due_date=late)
                outcome["overdue"] += 1
            else:
                outcome["due"] += 1
        for customer_id, _external, _plan, _activity in population[:5]:
            invoices.create_one_off(
                session,
                principal,
                customer_id=customer_id,
                currency="usd",
                subtotal=Decimal(750),
                total=Decimal(750),
                amount_due=Decimal(750),
                lines=[
                    LineDraft(
                        amount=Decimal(750), quantity=Decimal(1), display_name="Onboarding package"
                    )
                ],
                description="Onboarding, not yet sent",
                now=now,
            )
            outcome["draft"] += 1
    return outcome


def _wallets(
    db: Database, principal: Principal, population: list[tuple[str, str, str, float]], now: datetime
) -> None:
    """Prepaid credits for every tenth customer: free credits at sign-up, a purchased top-up,
    and a part of it spent."""
    with db.session() as session:
        for index, (customer_id, _external, _plan, _activity) in enumerate(population):
            if index % 10:
                continue
            wallet = wallets.create_wallet(
                session,
                principal,
                currency="usd",
                customer_id=customer_id,
                name="Prepaid credits",
                initial_credits=Decimal(100),
                now=now,
            )
            wallets.top_up(
                session,
                principal,
                wallet.id,
                transaction_reason="PURCHASED_CREDIT_DIRECT",
                credits_to_add=Decimal(50 * (1 + index % 3)),
                description="Credit pack",
                now=now,
            )


# The first customer's wallet holds 150 credits after seeding: below this, so it is in alarm.
LOW_BALANCE = Decimal(200)


def _low_balance_alert(db: Database, principal: Principal, customer_id: str, now: datetime) -> None:
    """A low-balance alert on the first customer's wallet, evaluated now, so the overview's
    alerts panel shows it in alarm (the alerts job would find it at its next scan)."""
    with db.session() as session:
        wallet = wallets.customer_wallets(session, principal, customer_id)[0]
        config = thresholds.Config(
            enabled=True,
            threshold_type="absolute",
            levels={"critical": thresholds.Level("below", LOW_BALANCE)},
        )
        setting = alerts.put_wallet_setting(session, principal, wallet.id, config)
        alert_evaluation.evaluate_setting(session, setting, now)


def _instance_usage(db: Database, principal: Principal, now: datetime) -> None:
    """The self-hosted instance reports its API calls for the last three days."""
    writer = ReportWriter(db)
    reports = [
        UsageReportRequest(
            environment_id=principal.environment_id,
            key_id=None,
            instance_slug="acme-prod",
            entitlement_slug="api_calls",
            value=Decimal(calls),
            behavior="append",
            metadata={"day": (now - timedelta(days=3 - day)).date().isoformat()},
            transaction_id=f"acme-prod-{day}",
        )
        for day, calls in enumerate((41_200, 38_950, 44_310))
    ]
    for result in writer.apply(reports):
        if isinstance(result, BaseException):
            raise result


def _summarise(
    db: Database,
    principal: Principal,
    population: list[tuple[str, str, str, float]],
    result: DemoResult,
) -> None:
    plan_of = {customer_id: plan for customer_id, _, plan, _ in population}
    counts: Counter[str] = Counter()
    totals: dict[str, Decimal] = {}
    by_customer: dict[str, Decimal] = {}
    with db.session(write=False) as session:
        offset = 0
        while True:
            page, total = invoices.search_invoices(
                session, principal, limit=1000, offset=offset, invoice_status=["FINALIZED"]
            )
            for invoice in page:
                plan = plan_of.get(invoice.customer_id, "other")
                counts[plan] += 1
                totals[plan] = totals.get(plan, Decimal(0)) + invoice.total
                by_customer[invoice.customer_id] = (
                    by_customer.get(invoice.customer_id, Decimal(0)) + invoice.total
                )
            offset += len(page)
            if not page or offset >= total:
                break
        top = sorted(by_customer.items(), key=lambda item: item[1], reverse=True)[:5]
        for customer_id, amount in top:
            customer = customers.get_customer(session, principal, customer_id)
            result.top_customers.append((customer.name, plan_of[customer_id], amount))
    result.invoices_by_plan = {plan: (counts[plan], totals[plan]) for plan in counts}
