"""Fixtures of the credit grant tests: the server's database, opened in-process, so a
test runs the grants job at a time it chooses (the server's own job is off: the billing
interval is 0 in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

import meterline.db.models  # noqa: F401 - every table mapped, as in the server
from meterline.db.engine import Database
from meterline.settings import Settings
from tests.conftest import Server, unique


@pytest.fixture(scope="module")
def server_db(server: Server) -> Iterator[Database]:
    db = Database.connect(Settings(database_url=server.database_url))
    yield db
    db.dispose()


def plan_with_fee(fp: Any, amount: str = "10") -> Any:
    """A monthly usd plan with one ADVANCE flat fee."""
    plan = fp.plans.create_plan(name="Credits plan", lookup_key=unique("plan"))
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount=amount,
        invoice_cadence="ADVANCE",
    )
    return plan


def subscribe(fp: Any, plan: Any, start: datetime) -> tuple[Any, Any]:
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Credits Co")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=start,
    )
    return customer, sub
