"""Key figures of an environment, from its subscriptions and invoices (the dashboard's
overview shows them).

* **MRR** per currency: each FIXED line item live now on an active subscription, at its
  price for its quantity, normalised to a month (an annual fee counts a twelfth, a weekly
  one 52/12), rounded once per currency. Usage charges and trials are not recurring revenue
  (Stripe and ChartMogul count the same way).
* **Due and overdue**: what finalized, unpaid invoices still owe (``amount_remaining``),
  and the part of it past its due date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.invoicing import repository as invoice_rows
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.pricing.charge_models import model_of_price, price_amount
from meterline.subscriptions import repository as subscription_rows

# Billing periods in months; a week is 12/52 of a month and a day 12/365.
PERIOD_MONTHS = {
    "MONTHLY": Decimal(1),
    "QUARTERLY": Decimal(3),
    "HALF_YEARLY": Decimal(6),
    "ANNUAL": Decimal(12),
    "WEEKLY": Decimal(12) / Decimal(52),
    "DAILY": Decimal(12) / Decimal(365),
}


@dataclass(frozen=True)
class Amount:
    currency: str
    value: Decimal


@in_money_context
def mrr(session: Session, principal: Principal, now: datetime) -> list[Amount]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for item, price in subscription_rows.active_fixed_items(session, principal.environment_id, now):
        months = PERIOD_MONTHS.get(item.billing_period)
        if months is None:
            continue
        per_period = price_amount(model_of_price(price), item.quantity)
        found[item.currency] += per_period / (months * max(1, item.billing_period_count))
    return [
        Amount(currency, round_money(value, minor_units(currency)))
        for currency, value in sorted(found.items())
    ]


@in_money_context
def outstanding(
    session: Session, principal: Principal, now: datetime
) -> tuple[list[Amount], list[Amount], int]:
    due: dict[str, Decimal] = defaultdict(Decimal)
    overdue: dict[str, Decimal] = defaultdict(Decimal)
    late = 0
    for currency, remaining, due_date in invoice_rows.outstanding(
        session, principal.environment_id
    ):
        if remaining <= 0:
            continue
        due[currency] += remaining
        if due_date is not None and due_date < now:
            overdue[currency] += remaining
            late += 1
    return (
        [Amount(c, v) for c, v in sorted(due.items())],
        [Amount(c, v) for c, v in sorted(overdue.items())],
        late,
    )
