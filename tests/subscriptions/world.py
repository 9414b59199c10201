"""Catalogue helpers of the subscription tests, through the official SDK."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.conftest import unique

D = Decimal
_NOW = datetime.now(UTC)
_THIS = _NOW.year * 12 + _NOW.month - 1


def month(back: int) -> tuple[int, int]:
    """(year, month) ``back`` months before this one."""
    year, index = divmod(_THIS - back, 12)
    return year, index + 1


def month_days(back: int) -> int:
    year, number = month(back)
    return calendar.monthrange(year, number)[1]


def on(back: int, day: int, hour: int = 0) -> datetime:
    year, number = month(back)
    return datetime(year, number, day, hour, tzinfo=UTC)


def fixed_plan(
    fp: Any, amount: str = "8", cadence: str = "ADVANCE", **price: Any
) -> tuple[Any, Any]:
    """A plan with one monthly FIXED usd price (FLAT_FEE ``amount`` unless ``price`` says)."""
    plan = fp.plans.create_plan(name=unique("Plan"), lookup_key=unique("plan"))
    body = {"billing_model": "FLAT_FEE", "amount": amount, **price}
    created = fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        type_="FIXED",
        invoice_cadence=cadence,
        **body,
    )
    return plan, created


def customer(fp: Any) -> Any:
    return fp.customers.create_customer(external_id=unique("c"), name="C")


def invoices_of(fp: Any, subscription_id: str) -> list[Any]:
    found = fp.invoices.query_invoice(subscription_id=subscription_id)
    return sorted(found.items or [], key=lambda i: (i.created_at, i.id))


def by_reason(fp: Any, subscription_id: str, reason: str) -> Any:
    matching = [i for i in invoices_of(fp, subscription_id) if i.billing_reason == reason]
    assert len(matching) == 1, [i.billing_reason for i in invoices_of(fp, subscription_id)]
    return matching[0]
