"""The wallet ledger under concurrency (hypothesis, SQLite and PostgreSQL): invoice payments,
top-ups and credit grant runs race on one wallet with an auto top-up; afterwards the
balance equals the ledger, every entry's before/after chains, no balance and no grant's
remainder is ever negative, the remainders add up to the balance, and each grant period
was credited exactly once."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.api.flexprice.prices import PriceIn
from meterline.credits import apply
from meterline.credits import service as grants
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer
from meterline.pricing import plans, prices
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.commands import CreateSubscription
from meterline.wallets import auto_topup, payments
from meterline.wallets import repository as wallet_repository
from meterline.wallets import service as wallets
from tests.invoicing.service_db import ServiceDb
from tests.wallets.test_properties import PropertyInvoice

START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
PLANS: dict[str, str] = {}

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40"), places=2)
pays = st.lists(amounts, max_size=4)
top_ups = st.lists(st.tuples(amounts, st.one_of(st.none(), st.integers(0, 2))), max_size=4)
grant_runs = st.lists(st.integers(0, 10), min_size=1, max_size=3)  # days after the start


def _plan(service_db: ServiceDb) -> str:
    url = str(id(service_db.db))  # one plan per database
    if url not in PLANS:
        with service_db.db.session() as session:
            plan = plans.create_plan(session, service_db.principal, name="Ledger")
            body = {
                "entity_type": "PLAN",
                "entity_id": plan.id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "billing_period_count": 1,
                "type": "FIXED",
                "billing_model": "FLAT_FEE",
                "amount": "1",
                "invoice_cadence": "ARREAR",
            }
            prices.create_prices(
                session, service_db.principal, [PriceIn.model_validate(body).command()], bulk=False
            )
            PLANS[url] = plan.id
    return PLANS[url]


def _setup(service_db: ServiceDb, grant_credits: Decimal) -> tuple[str, str, str, str]:
    db, principal = service_db.db, service_db.principal
    plan_id = _plan(service_db)
    with db.session() as session:
        customer = customers.create_customer(
            session, principal, CreateCustomer(external_id=f"l-{uuid.uuid4().hex[:12]}", name="L")
        )
        sub = subscriptions.create_subscription(
            session,
            principal,
            CreateSubscription(
                customer_id=customer.id,
                plan_id=plan_id,
                currency="usd",
                billing_period="MONTHLY",
                start_date=START,
            ),
        )
        wallet = wallets.create_wallet(
            session,
            principal,
            currency="usd",
            customer_id=customer.id,
            initial_credits=Decimal(30),
            auto_topup_settings=auto_topup.AutoTopup(
                enabled=True, threshold=Decimal(20), amount=Decimal("12.5")
            ),
        )
        grant = grants.create_grant(
            session,
            principal,
            grants.CreateGrant(
                name="Daily",
                scope="SUBSCRIPTION",
                subscription_id=sub.id,
                credits=grant_credits,
                cadence="RECURRING",
                period="DAILY",
                expiration_type="DURATION",
                expiration_duration=2,
                expiration_duration_unit="DAY",
                priority=1,
            ),
        )
        return customer.id, sub.id, wallet.id, grant.id


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pay=pays, top_up=top_ups, runs=grant_runs, grant_credits=amounts)
def test_concurrent_debits_grants_and_top_ups_keep_the_ledger_whole(
    service_db: ServiceDb,
    pay: list[Decimal],
    top_up: list[tuple[Decimal, int | None]],
    runs: list[int],
    grant_credits: Decimal,
) -> None:
    db, principal = service_db.db, service_db.principal
    customer_id, _sub_id, wallet_id, grant_id = _setup(service_db, grant_credits)
    now = datetime.now(UTC)
    problems: list[BaseException] = []

    def payer() -> None:
        for amount in pay:
            with db.session() as session:
                invoice = PropertyInvoice("inv_race", principal.environment_id, customer_id, "usd")
                payments.pay_from_wallets(session, invoice, amount, at=now)

    def topper() -> None:
        for quantity, priority in top_up:
            with db.session() as session:
                wallets.top_up(
                    session,
                    principal,
                    wallet_id,
                    transaction_reason="PURCHASED_CREDIT_DIRECT",
                    credits_to_add=quantity,
                    priority=priority,
                    now=now,
                )

    def granter() -> None:
        for days in runs:
            apply.run_once(db, START + timedelta(days=days, hours=1))

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # reported below
                problems.append(error)

        return run

    threads = [threading.Thread(target=guarded(w)) for w in (payer, topper, granter, granter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []

    with db.session(write=False) as session:
        wallet = wallets.get_wallet(session, principal, wallet_id)
        ledger = wallet_repository.all_transactions(session, wallet_id)
        running = Decimal(0)
        for entry in ledger:  # in sequence order
            assert entry.credit_balance_before == running
            running += entry.credit_amount if entry.type == "credit" else -entry.credit_amount
            assert entry.credit_balance_after == running
            assert running >= 0
            assert entry.credits_available >= 0
        assert wallet.credit_balance == running
        remainders = sum((e.credits_available for e in ledger if e.type == "credit"), Decimal(0))
        assert remainders == wallet.credit_balance
        granted = [e for e in ledger if e.transaction_reason == "SUBSCRIPTION_CREDIT_GRANT"]
        assert len(granted) == max(runs) + 1  # one per daily period started by the last run
        assert all(e.credit_amount == grant_credits for e in granted)
        assert len(grants.applications(session, principal, grant_id)) == len(granted)
        debits = [e for e in ledger if e.transaction_reason == "INVOICE_PAYMENT"]
        automatic = [e for e in ledger if (e.metadata_ or {}).get("auto_topup") == "true"]
        assert len(automatic) <= len(debits)
