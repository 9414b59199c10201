"""The invoice line maths without a database: rows built in memory, usage from a fake.

``compute`` runs no query (the layer test holds it to that), so its rules are checked here
with exact amounts; the HTTP tests cover the same rules end to end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from meterline.catalog.models import Meter
from meterline.invoicing import compute
from meterline.invoicing.amounts import Allowance
from meterline.kernel import calendar as periods
from meterline.pricing.models import Price
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

START = datetime(2025, 1, 1, tzinfo=UTC)
PERIOD = periods.Period(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))


class FakeUsage:
    """Cumulative usage by the end of each window: ``total`` is ``upto[end] - upto[start]``."""

    def __init__(self, upto: dict[datetime, Decimal]) -> None:
        self.upto = upto
        self.calls: list[tuple[datetime, datetime]] = []

    def _at(self, moment: datetime) -> Decimal:
        return self.upto.get(moment, Decimal(0))

    def total(self, meter: Meter, customer: str, start: datetime, end: datetime) -> Decimal:
        assert customer == "cust-ext"
        self.calls.append((start, end))
        return self._at(end) - self._at(start)

    def buckets(self, meter: Meter, customer: str, start: datetime, end: datetime) -> list[Decimal]:
        raise AssertionError("no bucketed meter here")


def _context(allowance: Allowance | None, *, cadence: str = "ARREAR") -> compute.Context:
    sub = Subscription(
        id="sub",
        start_date=START,
        timezone="UTC",
        billing_anchor=START,
        billing_period="MONTHLY",
        billing_period_count=1,
    )
    usage_item = SubscriptionLineItem(
        id="item-usage",
        price_id="price-usage",
        price_type="USAGE",
        meter_id="meter",
        display_name="API calls",
        invoice_cadence="ARREAR",
        start_date=START,
        end_date=None,
    )
    fixed_item = SubscriptionLineItem(
        id="item-fixed",
        price_id="price-fixed",
        price_type="FIXED",
        display_name="Platform",
        quantity=Decimal(2),
        invoice_cadence=cadence,
        start_date=START,
        end_date=None,
    )
    prices = {
        "price-usage": Price(
            id="price-usage",
            billing_model="FLAT_FEE",
            amount=Decimal("0.5"),
            tiers=None,
            transform_quantity=None,
            billing_period="MONTHLY",
        ),
        "price-fixed": Price(
            id="price-fixed",
            billing_model="FLAT_FEE",
            amount=Decimal(10),
            tiers=None,
            transform_quantity=None,
            billing_period="MONTHLY",
        ),
    }
    meter = Meter(id="meter", bucket_size=None, group_by=None)
    return compute.Context(
        sub,
        "cust-ext",
        [usage_item, fixed_item],
        prices,
        {"meter": meter},
        {"meter": allowance},
    )


def test_usage_without_allowance_is_billed_whole_and_fixed_arrear_per_quantity() -> None:
    usage = FakeUsage({PERIOD.start: Decimal(5), PERIOD.end: Decimal(17)})
    usage_line, fixed_line = compute.arrear_lines(usage, _context(None), PERIOD)
    assert (usage_line.quantity, usage_line.amount) == (Decimal(12), Decimal("6.0"))
    assert usage_line.adjusted_entitlement_quantity is None
    assert (fixed_line.quantity, fixed_line.amount) == (Decimal(2), Decimal(20))
    assert usage.calls == [(PERIOD.start, PERIOD.end)]


def test_a_never_resetting_allowance_bills_only_what_crossed_it_this_period() -> None:
    # 5 used before the period, 17 by its end, a limit of 8: 9 billable, 3 covered.
    usage = FakeUsage({PERIOD.start: Decimal(5), PERIOD.end: Decimal(17)})
    allowance = Allowance(unlimited=False, limit=Decimal(8), reset_period="NEVER")
    usage_line, _fixed = compute.arrear_lines(usage, _context(allowance), PERIOD)
    assert (usage_line.quantity, usage_line.amount) == (Decimal(9), Decimal("4.5"))
    assert usage_line.adjusted_entitlement_quantity == Decimal(3)
    assert usage.calls == [(START, PERIOD.start), (START, PERIOD.end)]


def test_advance_lines_read_no_usage() -> None:
    ctx = _context(None, cadence="ADVANCE")
    [line] = compute.advance_lines(ctx, PERIOD, opening=False)
    assert (line.price_id, line.amount, line.period_start) == ("price-fixed", 20, PERIOD.start)
    usage = FakeUsage({})
    [usage_line] = compute.arrear_lines(usage, ctx, PERIOD)
    assert usage_line.price_type == "USAGE"
