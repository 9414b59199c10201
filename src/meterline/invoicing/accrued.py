"""Usage accrued but not yet invoiced: what a wallet's real-time balance subtracts.

For each live subscription of the customer in the currency, the usage charges (``USAGE``
lines, priced exactly as the period-end invoice prices them: ``compute.arrear_lines``,
entitlements and tiers included, each line rounded to the currency) of the current billing
period so far, ``[current_period_start, min(now, current_period_end))``. Fixed charges are
not usage: ADVANCE fees are invoiced already and ARREAR fees are not accrued by the hour.
Usage of a period that has ended but that the billing clock has not closed yet is not
counted here (the clock invoices it on its next run, and the invoice then counts as unpaid).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.customers.models import Customer
from meterline.invoicing import compute, usage_loader
from meterline.invoicing.amounts import ZERO
from meterline.kernel import calendar
from meterline.kernel.money import in_money_context, minor_units, round_money
from meterline.subscriptions import repository as subscription_repository


@in_money_context
def accrued_usage(
    session: Session, environment_id: str, customer_id: str, currency: str, now: datetime
) -> Decimal:
    """The customer's usage charges in ``currency`` accrued over the current periods."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return ZERO
    digits = minor_units(currency)
    total = ZERO
    for sub in subscription_repository.live_for_customer(session, environment_id, customer_id):
        end = min(now, sub.current_period_end)
        if sub.currency != currency or end <= sub.current_period_start:
            continue
        ctx = usage_loader.load_context(session, sub, str(customer.external_id))
        period = calendar.Period(sub.current_period_start, end)
        for line in compute.arrear_lines(usage_loader.SessionUsage(session), ctx, period):
            if line.price_type == "USAGE":
                total += round_money(line.amount, digits)
    return total
