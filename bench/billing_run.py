"""The `billing_run` benchmark: close one period for N subscriptions with usage from M events.

Loads the catalog straight through the services (one plan: a 10 usd ADVANCE fee, a usage
price per call and a SLAB-tiered price on tokens; N customers each on one monthly
subscription starting 2025-01-01) and M events through ``SqlEventStore.insert`` in large
transactions (no HTTP), then runs the billing clock (``meterline.invoicing.clock.run_once``)
once at 2025-02-01 02:00 UTC, past the one-hour grace: every January period is closed
(invoice + move to February) and its draft finalized (wallet check, number). Prints:

  * ``billing_setup``: how long loading took;
  * ``billing_run``: invoices/s of the clock, its time per phase, and what was checked —
    exactly one SUBSCRIPTION_CYCLE invoice per subscription and period, all FINALIZED,
    numbered without gaps, Σ subtotals equal to the amount computed from the generated
    events;
  * ``billing_ceiling``: the same number of invoices (with their lines and the subscription
    update) written with plain Core inserts, one transaction per subscription as the clock
    does, and in one transaction; ``ratio`` = clock / per-transaction ceiling.

    python bench/billing_run.py                        # 10,000 subscriptions, 1M events
    python bench/billing_run.py --subscriptions 1000 --events 100000
    python bench/billing_run.py --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/billing_run.py --profile /tmp/clock.prof   # cProfile of the clock run

With ``--database-url`` to PostgreSQL a fresh database is created next to it and dropped
after.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.engine import Database
from meterline.kernel.instants import to_micros
from meterline.kernel.money import minor_units, round_money
from meterline.metering.ingest import EventRow
from meterline.pricing.charge_models import price_amount
from meterline.pricing.charge_models.tiered_slab import TieredSlab
from meterline.pricing.charge_models.tiers import Tier
from meterline.settings import Settings

# A recent whole month (a subscription may start at most a year back): two months ago.
_MONTH = datetime.now(UTC).year * 12 + datetime.now(UTC).month - 1 - 2
PERIOD_START = datetime(_MONTH // 12, _MONTH % 12 + 1, 1, tzinfo=UTC)
PERIOD_END = datetime((_MONTH + 1) // 12, (_MONTH + 1) % 12 + 1, 1, tzinfo=UTC)
NOW = PERIOD_END + timedelta(hours=2)
FEE = Decimal("10")
PER_CALL = Decimal("0.002")
TOKEN_TIERS = (
    Tier(Decimal(1000), Decimal("0.001")),
    Tier(None, Decimal("0.0005")),
)
EVENT_BATCH = 20_000
SETUP_BATCH = 500


def tokens_of(n: int) -> int:
    return (n * 37) % 101


def event_batches(total: int, customers: int, environment_id: str) -> Iterator[list[EventRow]]:
    span = to_micros(PERIOD_END) - to_micros(PERIOD_START)
    step = max(1, span // max(total, 1))
    base = to_micros(PERIOD_START)
    batch: list[EventRow] = []
    for n in range(total):
        tokens = tokens_of(n)
        batch.append(
            EventRow(
                environment_id=environment_id,
                event_id=f"evt_{n:09d}",
                event_name="bench_call",
                external_customer_id=f"cust_{n % customers:06d}",
                customer_id=None,
                timestamp=base + n * step,
                source=None,
                properties={"tokens": tokens},
                properties_json=f'{{"tokens":{tokens}}}',
            )
        )
        if len(batch) == EVENT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def expected_subtotal(total: int, customers: int) -> Decimal:
    """Σ over customers of January's usage charges plus February's ADVANCE fee."""
    calls = [0] * customers
    tokens = [0] * customers
    for n in range(total):
        calls[n % customers] += 1
        tokens[n % customers] += tokens_of(n)
    slab = TieredSlab(TOKEN_TIERS)
    amount = Decimal(0)
    for c in range(customers):
        amount += round_money(PER_CALL * calls[c], minor_units("usd"))
        amount += round_money(price_amount(slab, Decimal(tokens[c])), minor_units("usd"))
        amount += FEE
    return amount


def setup(db: Database, subscriptions: int) -> Principal:
    from meterline.accounts import service as accounts
    from meterline.api.flexprice.prices import PriceIn
    from meterline.catalog import service as catalog
    from meterline.catalog.commands import CreateMeter
    from meterline.pricing import plans, prices

    with db.session() as session:
        account = accounts.ensure_default_account(session)
        principal = Principal(
            organization_id=account.organization.id,
            environment_id=account.environment.id,
            key_id="bench",
            user_id=account.user.id,
            scopes=frozenset({"*"}),
        )
        calls = catalog.create_meter(
            session,
            principal,
            CreateMeter(name="calls", event_name="bench_call", aggregation_type="COUNT"),
        )
        tokens = catalog.create_meter(
            session,
            principal,
            CreateMeter(
                name="tokens", event_name="bench_call", aggregation_type="SUM", field="tokens"
            ),
        )
        plan = plans.create_plan(session, principal, name="Bench", lookup_key="bench")
        common = {
            "entity_type": "PLAN",
            "entity_id": plan.id,
            "currency": "usd",
            "billing_period": "MONTHLY",
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
                        "amount": str(FEE),
                        "invoice_cadence": "ADVANCE",
                    },
                    {
                        **common,
                        "type": "USAGE",
                        "billing_model": "FLAT_FEE",
                        "amount": str(PER_CALL),
                        "meter_id": calls.id,
                        "invoice_cadence": "ARREAR",
                    },
                    {
                        **common,
                        "type": "USAGE",
                        "billing_model": "TIERED",
                        "tier_mode": "SLAB",
                        "tiers": [
                            {"up_to": 1000, "unit_amount": "0.001"},
                            {"up_to": None, "unit_amount": "0.0005"},
                        ],
                        "meter_id": tokens.id,
                        "invoice_cadence": "ARREAR",
                    },
                )
            ],
            bulk=True,
        )
        plan_id = plan.id
    subscribe_customers(db, principal, plan_id, subscriptions)
    return principal


def subscribe_customers(db: Database, principal: Principal, plan_id: str, count: int) -> None:
    """``count`` customers ``cust_000000``… each on a monthly subscription to ``plan_id``
    from ``PERIOD_START``, written in transactions of ``SETUP_BATCH``."""
    from meterline.customers import service as customers
    from meterline.customers.commands import CreateCustomer
    from meterline.subscriptions import service as subscriptions_service
    from meterline.subscriptions.commands import CreateSubscription

    for first in range(0, count, SETUP_BATCH):
        with db.session() as session:
            for c in range(first, min(first + SETUP_BATCH, count)):
                customer = customers.create_customer(
                    session,
                    principal,
                    CreateCustomer(external_id=f"cust_{c:06d}", name=f"Customer {c}"),
                )
                subscriptions_service.create_subscription(
                    session,
                    principal,
                    CreateSubscription(
                        customer_id=customer.id,
                        plan_id=plan_id,
                        currency="usd",
                        billing_period="MONTHLY",
                        start_date=PERIOD_START,
                    ),
                )


def load_events(db: Database, total: int, customers: int, environment_id: str) -> None:
    from meterline.metering.stores.sql import SqlEventStore

    store = SqlEventStore(db.dialect)
    for batch in event_batches(total, customers, environment_id):
        with db.session() as session:
            store.insert(session.connection(), batch)
    with db.write_engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def check(db: Database, environment_id: str, subscriptions: int) -> dict[str, Any]:
    from meterline.subscriptions.models import Subscription

    with db.write_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT subscription_id, period_start, invoice_status, invoice_number, subtotal"
                " FROM invoices WHERE environment_id = :env"
                " AND billing_reason = 'SUBSCRIPTION_CYCLE'"
            ),
            {"env": environment_id},
        ).all()
        advanced = conn.execute(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.environment_id == environment_id,
                Subscription.current_period_start == PERIOD_END,
            )
        ).scalar_one()
    keys = {(r[0], str(r[1])) for r in rows}
    numbers = sorted(int(r[3].rsplit("-", 1)[1]) for r in rows if r[3])
    return {
        "invoices": len(rows),
        "one_per_subscription_and_period": len(keys) == len(rows) == subscriptions,
        "all_finalized": all(r[2] == "FINALIZED" for r in rows),
        "numbers_without_gaps": numbers == list(range(1, len(rows) + 1)),
        "subscriptions_advanced": int(advanced),
        "subtotal_sum": sum((Decimal(str(r[4])) for r in rows), Decimal(0)),
    }


def ceiling(db: Database, environment_id: str, subscriptions: int) -> dict[str, float]:
    """The clock's writes without its logic: per subscription one invoice, three lines and
    the subscription's period update, by plain Core inserts; then the same in one
    transaction. The rows are deleted afterwards."""
    from meterline.invoicing.models import Invoice, InvoiceLineItem
    from meterline.subscriptions.models import Subscription

    with db.write_engine.connect() as conn:
        subs = conn.execute(
            text(
                "SELECT id, customer_id FROM subscriptions WHERE environment_id = :env ORDER BY id"
            ),
            {"env": environment_id},
        ).all()
    assert len(subs) == subscriptions

    def rows(tag: str, sub_id: str, customer_id: str) -> tuple[dict[str, Any], list[Any]]:
        invoice_id = new_id("inv")
        now = utcnow()
        invoice = {
            "id": invoice_id,
            "environment_id": environment_id,
            "customer_id": customer_id,
            "subscription_id": sub_id,
            "invoice_type": "SUBSCRIPTION",
            "currency": "usd",
            "subtotal": Decimal("11.5"),
            "total": Decimal("11.5"),
            "amount_due": Decimal("11.5"),
            "amount_remaining": Decimal("11.5"),
            "billing_key": f"ceiling:{tag}:{sub_id}",
            "billing_reason": "PRORATION",
            "period_start": PERIOD_START,
            "period_end": PERIOD_END,
            "metadata_": {},
            "created_at": now,
            "updated_at": now,
        }
        lines = [
            {
                "id": new_id("inv_line"),
                "invoice_id": invoice_id,
                "environment_id": environment_id,
                "customer_id": customer_id,
                "position": position,
                "amount": Decimal("0.5"),
                "quantity": Decimal(1),
                "currency": "usd",
                "metadata_": {},
                "created_at": now,
                "updated_at": now,
            }
            for position in range(3)
        ]
        return invoice, lines

    invoices = Invoice.__table__
    lines_table = InvoiceLineItem.__table__
    subs_table = Subscription.__table__
    figures: dict[str, float] = {}
    began = time.perf_counter()
    for sub_id, customer_id in subs:
        invoice, lines = rows("txn", sub_id, customer_id)
        with db.write_engine.begin() as conn:
            conn.execute(insert(invoices), [invoice])
            conn.execute(insert(lines_table), lines)
            conn.execute(
                update(subs_table)
                .where(subs_table.c.id == sub_id)
                .values(version=subs_table.c.version)
            )
    figures["per_transaction_s"] = time.perf_counter() - began
    began = time.perf_counter()
    with db.write_engine.begin() as conn:
        built = [rows("bulk", s, c) for s, c in subs]
        conn.execute(insert(invoices), [i for i, _ in built])
        conn.execute(insert(lines_table), [line for _, ls in built for line in ls])
    figures["one_transaction_s"] = time.perf_counter() - began
    with db.write_engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM invoice_line_items WHERE invoice_id IN (SELECT id FROM invoices"
                " WHERE environment_id = :env AND billing_key LIKE 'ceiling:%')"
            ),
            {"env": environment_id},
        )
        conn.execute(
            text(
                "DELETE FROM invoices WHERE environment_id = :env AND billing_key LIKE 'ceiling:%'"
            ),
            {"env": environment_id},
        )
    return figures


def run(url: str, database: str, subscriptions: int, total: int, profile: str | None) -> None:
    from meterline.db.migrate import upgrade
    from meterline.invoicing import clock
    from meterline.metering.rebuild_job import MeterRebuildJob

    upgrade(url)
    db = Database.connect(Settings(database_url=url))
    began = time.perf_counter()
    principal = setup(db, subscriptions)
    # A new meter's aggregates are rebuilt by the server's rebuild job at once (until then
    # its reads come from raw events); no server runs here, so the job runs in place.
    rebuilt = MeterRebuildJob(db, Settings(database_url=url).events).run_once()
    catalog_s = time.perf_counter() - began
    began = time.perf_counter()
    load_events(db, total, subscriptions, principal.environment_id)
    events_s = time.perf_counter() - began
    emit(
        bench="billing_setup",
        database=database,
        subscriptions=subscriptions,
        events=total,
        catalog_s=round(catalog_s, 1),
        meters_rebuilt=rebuilt.done,
        events_s=round(events_s, 1),
        events_per_s=round(total / events_s) if events_s else None,
    )
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    report = clock.run_once(db, now=NOW, grace=timedelta(hours=1))
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    elapsed = time.perf_counter() - began
    checked = check(db, principal.environment_id, subscriptions)
    expected = expected_subtotal(total, subscriptions)
    ceil = ceiling(db, principal.environment_id, subscriptions)
    invoices_per_s = checked["invoices"] / elapsed
    ceiling_per_s = subscriptions / ceil["per_transaction_s"]
    emit(
        bench="billing_run",
        database=database,
        subscriptions=subscriptions,
        events=total,
        seconds=round(elapsed, 2),
        invoices_per_s=round(invoices_per_s, 1),
        goal_invoices_per_s=500,
        periods_closed=report.periods_closed,
        invoices_finalized=report.invoices_finalized,
        skipped=report.skipped,
        invoices=checked["invoices"],
        one_per_subscription_and_period=checked["one_per_subscription_and_period"],
        all_finalized=checked["all_finalized"],
        numbers_without_gaps=checked["numbers_without_gaps"],
        subscriptions_advanced=checked["subscriptions_advanced"],
        subtotal_sum=str(checked["subtotal_sum"]),
        subtotal_expected=str(expected),
        amounts_exact=checked["subtotal_sum"] == expected,
        ratio_to_ceiling=round(invoices_per_s / ceiling_per_s, 3),
    )
    emit(
        bench="billing_ceiling",
        database=database,
        invoices=subscriptions,
        per_transaction_invoices_per_s=round(ceiling_per_s, 1),
        one_transaction_invoices_per_s=round(subscriptions / ceil["one_transaction_s"], 1),
    )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL admin URL (a fresh database is made next to it); default: a temp"
        " SQLite file",
    )
    parser.add_argument("--profile", default=None, help="write a cProfile of the clock run here")
    args = parser.parse_args()
    if not args.database_url:
        tmp = Path(tempfile.mkdtemp(prefix="meterline-billing-"))
        run(
            f"sqlite:///{tmp / 'bench.db'}", "sqlite", args.subscriptions, args.events, args.profile
        )
        return
    admin = create_engine(
        args.database_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"meterline_billing_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = args.database_url.rsplit("/", 1)[0] + "/" + name
        run(url, "postgresql", args.subscriptions, args.events, args.profile)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
