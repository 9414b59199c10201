"""Clock properties (hypothesis) against a real database: for random subscriptions
(period length, time zone, start, usage, an end date) and random run times, the clock bills
every ended period exactly once, contiguously, and running it again changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterline.api.flexprice.prices import PriceIn
from meterline.catalog import service as catalog
from meterline.catalog.commands import CreateMeter
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer
from meterline.invoicing import clock
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.instants import to_micros
from meterline.metering.ingest import EventRow
from meterline.metering.stores.sql import SqlEventStore
from meterline.pricing import plans, prices
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.commands import CreateSubscription
from meterline.subscriptions.models import Subscription
from tests.invoicing.service_db import ServiceDb

# Recent enough for the start-date bound (at most a year back): the latest run is at most
# 20 days + 8 periods of 31 days after it.
EPOCH = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=300)
DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31}
GRACE = timedelta(hours=1)

subscription = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
        "start_hours": st.integers(0, 24 * 20),
        "events": st.lists(st.integers(0, 24 * 100), max_size=6),  # hours after the start
        "ends_after_periods": st.one_of(st.none(), st.integers(1, 4)),
    }
)


def plan_for(service_db: ServiceDb, period: str) -> tuple[str, str]:
    db, principal = service_db.db, service_db.principal
    event_name = f"call-{uuid.uuid4().hex[:10]}"
    with db.session() as session:
        meter = catalog.create_meter(
            session,
            principal,
            CreateMeter(name="calls", event_name=event_name, aggregation_type="COUNT"),
        )
        plan = plans.create_plan(session, principal, name="P")
        common: dict[str, Any] = {
            "entity_type": "PLAN",
            "entity_id": plan.id,
            "currency": "usd",
            "billing_period": period,
            "billing_period_count": 1,
        }
        prices.create_prices(
            session,
            principal,
            [
                PriceIn.model_validate(body).command()
                for body in (
                    {
                        **common,
                        "type": "FIXED",
                        "billing_model": "FLAT_FEE",
                        "amount": "7",
                        "invoice_cadence": "ADVANCE",
                    },
                    {
                        **common,
                        "type": "FIXED",
                        "billing_model": "FLAT_FEE",
                        "amount": "1.25",
                        "invoice_cadence": "ARREAR",
                    },
                    {
                        **common,
                        "type": "USAGE",
                        "billing_model": "FLAT_FEE",
                        "amount": "0.5",
                        "meter_id": meter.id,
                        "invoice_cadence": "ARREAR",
                    },
                )
            ],
            bulk=False,
        )
        return plan.id, event_name


def snapshot(service_db: ServiceDb, subscription_ids: list[str]) -> tuple[Any, ...]:
    with service_db.db.session(write=False) as session:
        invoices = session.execute(
            select(
                Invoice.id,
                Invoice.billing_key,
                Invoice.invoice_status,
                Invoice.subtotal,
                Invoice.total,
                Invoice.invoice_number,
                Invoice.version,
                Invoice.period_start,
                Invoice.period_end,
                Invoice.subscription_id,
                Invoice.billing_reason,
            )
            .where(Invoice.subscription_id.in_(subscription_ids))
            .order_by(Invoice.id)
        ).all()
        lines = session.execute(
            select(InvoiceLineItem.invoice_id, InvoiceLineItem.amount, InvoiceLineItem.quantity)
            .where(InvoiceLineItem.subscription_id.in_(subscription_ids))
            .order_by(InvoiceLineItem.invoice_id, InvoiceLineItem.position)
        ).all()
        subs = session.execute(
            select(
                Subscription.id,
                Subscription.current_period_start,
                Subscription.current_period_end,
                Subscription.subscription_status,
                Subscription.start_date,
                Subscription.version,
            )
            .where(Subscription.id.in_(subscription_ids))
            .order_by(Subscription.id)
        ).all()
    return tuple(invoices), tuple(lines), tuple(subs)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    period=st.sampled_from(sorted(DAYS)),
    subs=st.lists(subscription, min_size=1, max_size=3),
    first_run_periods=st.integers(0, 3),
    last_run_periods=st.integers(1, 5),
)
def test_every_ended_period_is_billed_once_and_rerunning_changes_nothing(
    service_db: ServiceDb,
    period: str,
    subs: list[dict[str, Any]],
    first_run_periods: int,
    last_run_periods: int,
) -> None:
    db, principal = service_db.db, service_db.principal
    plan_id, event_name = plan_for(service_db, period)
    length = timedelta(days=DAYS[period])
    ids: list[str] = []
    rows: list[EventRow] = []
    with db.session() as session:
        for spec in subs:
            customer = customers.create_customer(
                session,
                principal,
                CreateCustomer(
                    external_id=f"c-{uuid.uuid4().hex[:12]}", name="C", timezone=spec["timezone"]
                ),
            )
            start = EPOCH + timedelta(hours=spec["start_hours"])
            ends = spec["ends_after_periods"]
            sub = subscriptions.create_subscription(
                session,
                principal,
                CreateSubscription(
                    customer_id=customer.id,
                    plan_id=plan_id,
                    currency="usd",
                    billing_period=period,
                    start_date=start,
                    end_date=start + length * ends + timedelta(hours=5) if ends else None,
                ),
            )
            ids.append(sub.id)
            rows += [
                EventRow(
                    environment_id=principal.environment_id,
                    event_id=f"e-{uuid.uuid4().hex}",
                    event_name=event_name,
                    external_customer_id=customer.external_id,
                    customer_id=None,
                    timestamp=to_micros(start + timedelta(hours=hour, minutes=7)),
                    source=None,
                    properties={},
                    properties_json="{}",
                )
                for hour in spec["events"]
            ]
    with db.session() as session:
        SqlEventStore(db.dialect).insert(session.connection(), rows)
    latest_start = EPOCH + timedelta(hours=max(s["start_hours"] for s in subs))
    middle = latest_start + length * first_run_periods
    end = middle + length * last_run_periods + GRACE * 2
    clock.run_once(db, now=middle, grace=GRACE)
    clock.run_once(db, now=end, grace=GRACE)
    once = snapshot(service_db, ids)
    report = clock.run_once(db, now=end, grace=GRACE)
    assert (report.periods_closed, report.invoices_finalized) == (0, 0)
    assert snapshot(service_db, ids) == once

    invoices, _lines, subscription_rows = once
    for sub_id, current_start, current_end, status, start_date, _version in subscription_rows:
        cycles = sorted(
            (i.period_start, i.period_end)
            for i in invoices
            if i.subscription_id == sub_id and i.billing_reason == "SUBSCRIPTION_CYCLE"
        )
        # contiguous from the start, one invoice per period, up to the current period
        assert [s for s, _e in cycles] == sorted({s for s, _e in cycles})
        boundaries = [start_date] + [e for _s, e in cycles]
        assert [s for s, _e in cycles] == boundaries[:-1]
        if status in ("active", "trialing"):
            assert boundaries[-1] == current_start
            assert current_end > end  # nothing left that has ended
        else:
            assert status == "cancelled"
    # past the grace period every cycle invoice is finalized and numbered
    assert all(
        i.invoice_status == "FINALIZED" and i.invoice_number
        for i in invoices
        if i.billing_reason == "SUBSCRIPTION_CYCLE" and i.period_end + GRACE <= end
    )
