"""Wallet ledger properties (hypothesis) against a real database, with a controlled clock:
after any sequence of top-ups (with expiries and priorities), invoice payments and the
passing of time, the balance equals the sum of the completed transactions, every entry's
before/after chains, and what is usable equals a simple model of the grants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer
from meterline.wallets import ledger as wallet_ledger
from meterline.wallets import payments
from meterline.wallets import repository as wallet_repository
from meterline.wallets import service as wallets
from tests.invoicing.service_db import ServiceDb

CENT = Decimal("0.01")
START = datetime(2031, 1, 1, tzinfo=UTC)

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2)
top_up = st.tuples(
    st.just("top_up"),
    money,
    st.one_of(st.none(), st.integers(1, 10)),  # expires after this many days
    st.one_of(st.none(), st.integers(0, 3)),  # priority
)
pay = st.tuples(st.just("pay"), st.decimals(Decimal("0.01"), Decimal("150"), places=2))
wait = st.tuples(st.just("wait"), st.integers(1, 6))


@dataclass(frozen=True)
class PropertyInvoice:
    """The invoice a payment is for: what ``pay_from_wallets`` reads of one."""

    id: str
    environment_id: str
    customer_id: str
    currency: str


@dataclass
class ModelGrant:
    amount: Decimal
    expiry: datetime | None
    priority: int | None
    sequence: int
    available: Decimal


def usable(grants: list[ModelGrant], at: datetime) -> Decimal:
    return sum((g.available for g in grants if g.expiry is None or g.expiry > at), Decimal(0))


def consume(grants: list[ModelGrant], quantity: Decimal, at: datetime) -> None:
    def order(g: ModelGrant) -> tuple[int, int, datetime, int]:
        far = datetime.max.replace(tzinfo=UTC)
        return (0 if g.priority is not None else 1, g.priority or 0, g.expiry or far, g.sequence)

    for grant in sorted((g for g in grants if g.expiry is None or g.expiry > at), key=order):
        taken = min(grant.available, quantity)
        grant.available -= taken
        quantity -= taken


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(st.one_of(top_up, pay, wait), min_size=1, max_size=12))
def test_balance_is_the_sum_of_completed_transactions(
    service_db: ServiceDb, operations: list[tuple[object, ...]]
) -> None:
    db, principal = service_db.db, service_db.principal
    with db.session() as session:
        customer = customers.create_customer(
            session, principal, CreateCustomer(external_id=f"w-{uuid.uuid4().hex[:12]}", name="W")
        )
        wallet_id = wallets.create_wallet(
            session, principal, currency="usd", customer_id=customer.id, now=START
        ).id
    now = START
    grants: list[ModelGrant] = []
    for operation in operations:
        if operation[0] == "wait":
            now += timedelta(days=int(str(operation[1])))
        elif operation[0] == "top_up":
            _, quantity, days, priority = operation
            assert isinstance(quantity, Decimal)
            expiry = now + timedelta(days=int(str(days))) if days is not None else None
            with db.session() as session:
                _wallet, entry = wallets.top_up(
                    session,
                    principal,
                    wallet_id,
                    transaction_reason="PURCHASED_CREDIT_DIRECT",
                    credits_to_add=quantity,
                    expiry=expiry,
                    priority=priority if isinstance(priority, int) else None,
                    now=now,
                )
                sequence = entry.sequence
            grants.append(ModelGrant(quantity, expiry, entry.priority, sequence, quantity))
        else:
            amount = operation[1]
            assert isinstance(amount, Decimal)
            expected = min(amount, usable(grants, now)).quantize(CENT, rounding=ROUND_DOWN)
            with db.session() as session:
                invoice = PropertyInvoice(
                    "inv_property", principal.environment_id, customer.id, "usd"
                )
                paid = payments.pay_from_wallets(session, invoice, amount, at=now)
            assert paid == expected
            consume(grants, paid, now)
    with db.session(write=False) as session:
        wallet = wallets.get_wallet(session, principal, wallet_id)
        ledger = wallet_repository.all_transactions(session, wallet_id)
        ledger.sort(key=lambda entry: entry.sequence)
        completed = [e for e in ledger if e.transaction_status == "completed"]
        credited = sum((e.credit_amount for e in completed if e.type == "credit"), Decimal(0))
        debits = sum((e.credit_amount for e in completed if e.type == "debit"), Decimal(0))
        assert wallet.credit_balance == credited - debits
        running = Decimal(0)
        for entry in ledger:
            assert entry.credit_balance_before == running
            step = entry.credit_amount if entry.type == "credit" else -entry.credit_amount
            running += step
            assert entry.credit_balance_after == running
        assert wallet.credit_balance >= 0
        assert wallet_ledger.credit_balance(session, wallet, now) == usable(grants, now)
