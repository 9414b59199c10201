"""What a subscription owes: the lines of its opening, period-end and preview invoices.

* opening invoice: the first period's ADVANCE fixed charges (and ONETIME prices);
* period-end invoice: the period's ARREAR charges (fixed ARREAR + every usage charge) and
  the next period's ADVANCE fixed charges;
* preview: the current period's ARREAR charges and the next period's ADVANCE charges.

Usage comes from a ``Usage`` source (``usage_loader`` reads the hourly aggregates and loads
the ``Context``; this module runs no query), is adjusted by the subscription's metered
entitlements (plan + subscription grants, reference §5.4) and priced by the price's charge
model (``pricing.charge_models``); each line is rounded once when it is stored. A model that
prices each event (``per_event``: PERCENTAGE with a fixed fee, free events or a per-event
minimum/maximum) gets the period's event values in time order, the entitlement's covered
part taken from the earliest events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from meterline.catalog.models import Meter
from meterline.invoicing import proration
from meterline.invoicing.amounts import (
    ZERO,
    Allowance,
    billable_quantity,
    uncovered_buckets,
)
from meterline.invoicing.lines import LineDraft
from meterline.kernel import calendar as periods
from meterline.kernel.money import in_money_context
from meterline.pricing.charge_models import (
    ChargeModel,
    bucketed_amount,
    events_amount,
    model_of_price,
    price_amount,
)
from meterline.pricing.models import Price
from meterline.subscriptions.models import Subscription, SubscriptionLineItem


@dataclass(frozen=True)
class Context:
    """Everything about one subscription the computation reads once."""

    subscription: Subscription
    external_customer_id: str
    items: list[SubscriptionLineItem]
    prices: dict[str, Price]
    meters: dict[str, Meter]
    allowances: dict[str, Allowance | None]


class Usage(Protocol):
    """Where the lines read usage from (``usage_loader.SessionUsage``: the hourly aggregates)."""

    def total(self, meter: Meter, customer: str, start: datetime, end: datetime) -> Decimal:
        """The meter's usage for one customer over ``[start, end)``."""
        ...

    def buckets(self, meter: Meter, customer: str, start: datetime, end: datetime) -> list[Decimal]:
        """Each bucket's (or, for a grouped meter without buckets, each group's) value."""
        ...

    def event_values(
        self, meter: Meter, customer: str, start: datetime, end: datetime
    ) -> list[Decimal]:
        """Each event's meter value over ``[start, end)``, in time order (bounded: see
        ``usage_loader.MAX_PRICED_EVENTS``)."""
        ...


def charge_model(price: Price) -> ChargeModel:
    """The charge model a stored price names."""
    return model_of_price(price)


def _active(item: SubscriptionLineItem, start: datetime, end: datetime) -> bool:
    return item.start_date < end and (item.end_date is None or item.end_date > start)


def full_period(sub: Subscription, period: periods.Period) -> periods.Period:
    """The whole anchor-aligned billing period around ``period``: itself when it is whole;
    for a part of one (a calendar first period, a period cut by an end date) the period
    it is part of."""
    return _containing(
        sub.billing_anchor, sub.billing_period, sub.billing_period_count, period.start, sub.timezone
    )


# The clock asks for the same few periods once per fixed line of a batch.
_containing = lru_cache(maxsize=4096)(periods.period_containing)


def fixed_share(ctx: Context, item: SubscriptionLineItem, period: periods.Period) -> Decimal:
    """The share of a whole period's fixed charge that ``item`` owes for ``period``: 1 for
    a whole period it was on for all of; else the days it was on over the days of the whole
    period (customer's time zone, ``proration.share``). ONETIME charges are never shared."""
    start = max(period.start, item.start_date)
    end = period.end if item.end_date is None else min(period.end, item.end_date)
    full = full_period(ctx.subscription, period)
    if start <= full.start and end >= full.end:
        return Decimal(1)
    return proration.share(start, end, full.start, full.end, ctx.subscription.timezone)


def _window(item: SubscriptionLineItem, period: periods.Period) -> periods.Period:
    """The part of ``period`` that ``item`` is on for."""
    end = period.end if item.end_date is None else min(period.end, item.end_date)
    return periods.Period(max(period.start, item.start_date), max(end, period.start))


def _fixed_line(
    ctx: Context,
    item: SubscriptionLineItem,
    price: Price,
    period: periods.Period,
    *,
    prorated: bool = True,
) -> LineDraft:
    quantity = item.quantity if item.quantity and item.quantity > 0 else Decimal(1)
    amount = price_amount(charge_model(price), quantity)
    metadata = {"invoice_cadence": item.invoice_cadence}
    billed = period
    if prorated and price.billing_period != "ONETIME":
        part = fixed_share(ctx, item, period)
        if part != 1:
            amount = amount * part
            metadata["proration_share"] = str(part.quantize(Decimal("0.000001")))
            billed = _window(item, period)
    return _item_line(
        item,
        billed,
        _of_price(
            price,
            LineDraft(
                amount=amount,
                quantity=quantity,
                display_name=item.display_name or item.plan_display_name,
                price_id=price.id,
                price_type="FIXED",
                metadata=metadata,
            ),
        ),
    )


def _of_price(price: Price, line: LineDraft) -> LineDraft:
    """``line`` marked with its price's unit (a CUSTOM price: its amounts were converted
    to the currency when the price was made) and group, in its metadata."""
    if price.price_unit is not None:
        line.price_unit = price.price_unit
    if price.group_id is not None:
        line.metadata["group_id"] = price.group_id
    return line


def _item_line(item: SubscriptionLineItem, period: periods.Period, line: LineDraft) -> LineDraft:
    """``line`` as one of ``item`` over ``period``: for which entity, plan and subscription
    line item, and which dates it bills."""
    line.entity_id = item.entity_id
    line.entity_type = item.entity_type
    line.plan_display_name = item.plan_display_name
    line.subscription_line_item_id = item.id
    line.period_start = period.start
    line.period_end = period.end
    return line


def _windows(
    ctx: Context, allowance: Allowance | None, period: periods.Period
) -> list[tuple[datetime, datetime]]:
    if allowance is None or allowance.unlimited or allowance.reset_period != "DAILY":
        return [(period.start, period.end)]
    return [(w.start, w.end) for w in periods.day_windows(period, ctx.subscription.timezone)]


def _usage_line(
    usage: Usage, ctx: Context, item: SubscriptionLineItem, price: Price, period: periods.Period
) -> LineDraft:
    meter = ctx.meters[item.meter_id] if item.meter_id else None
    allowance = ctx.allowances.get(item.meter_id or "")
    if meter is None:
        return LineDraft(amount=ZERO, quantity=ZERO, price_id=price.id, price_type="USAGE")
    model = charge_model(price)
    if model.per_event:
        # Each event priced: the entitlement covers the earliest events of each reset window
        # (as it covers the earliest buckets), the rest are priced one by one.
        events, covered = _after_allowance(
            usage.event_values, usage, ctx, period, meter, allowance, _uncovered_events
        )
        amount = events_amount(model, events)
        return _line(item, price, period, amount, sum(events, ZERO), covered)
    if meter.bucket_size or meter.group_by:
        # A bucketed (or grouped) meter: each bucket priced on its own (reference §6.2),
        # after the entitlement has covered the earliest buckets of each reset window.
        buckets, covered = _after_allowance(
            usage.buckets, usage, ctx, period, meter, allowance, uncovered_buckets
        )
        amount = bucketed_amount(model, buckets)
        return _line(item, price, period, amount, sum(buckets, ZERO), covered)
    if allowance is not None and not allowance.unlimited and allowance.reset_period == "NEVER":
        # Cumulative since the subscription started: bill what crossed the limit this period.
        before = usage.total(
            meter, ctx.external_customer_id, ctx.subscription.start_date, period.start
        )
        upto = usage.total(meter, ctx.external_customer_id, ctx.subscription.start_date, period.end)
        billable = max(ZERO, upto - allowance.limit) - max(ZERO, before - allowance.limit)
        covered = (upto - before) - billable
    else:
        usages = [
            usage.total(meter, ctx.external_customer_id, start, end)
            for start, end in _windows(ctx, allowance, period)
        ]
        billable, covered = billable_quantity(usages, allowance)
    return _line(item, price, period, price_amount(model, billable), billable, covered)


def _after_allowance(
    values_of: Callable[[Meter, str, datetime, datetime], list[Decimal]],
    usage: Usage,
    ctx: Context,
    period: periods.Period,
    meter: Meter,
    allowance: Allowance | None,
    uncovered: Callable[[list[Decimal], Decimal | None], list[Decimal]],
) -> tuple[list[Decimal], Decimal | None]:
    """The period's values (``values_of``: events or buckets, earliest first) left to price
    once the entitlement has covered the earliest of each reset window (``uncovered`` takes
    the covered quantity from them), and the quantity it covered (None: no entitlement)."""
    customer = ctx.external_customer_id
    if allowance is not None and not allowance.unlimited and allowance.reset_period == "NEVER":
        before = usage.total(meter, customer, ctx.subscription.start_date, period.start)
        values = values_of(meter, customer, period.start, period.end)
        used = sum(values, ZERO)
        billable = max(ZERO, before + used - allowance.limit) - max(ZERO, before - allowance.limit)
        covered = used - billable
        return uncovered(values, covered), covered
    remaining: list[Decimal] = []
    window_total: Decimal | None = None
    for start, end in _windows(ctx, allowance, period):
        values = values_of(meter, customer, start, end)
        _billable, window_covered = billable_quantity([sum(values, ZERO)], allowance)
        if window_covered is not None:
            window_total = (window_total or ZERO) + window_covered
        remaining += uncovered(values, window_covered)
    return remaining, window_total


def _uncovered_events(values: list[Decimal], covered: Decimal | None) -> list[Decimal]:
    """The events left to price once ``covered`` is taken from the earliest: an event the
    entitlement covers in full is not priced at all (no per-event fee or minimum)."""
    left = uncovered_buckets(values, covered)
    return [rest for rest, value in zip(left, values, strict=True) if rest > 0 or value <= 0]


def _line(
    item: SubscriptionLineItem,
    price: Price,
    period: periods.Period,
    amount: Decimal,
    billable: Decimal,
    covered: Decimal | None,
) -> LineDraft:
    name = item.display_name or item.meter_display_name or "Usage"
    return _item_line(
        item,
        period,
        _of_price(
            price,
            LineDraft(
                amount=amount,
                quantity=billable,
                adjusted_entitlement_quantity=covered,
                display_name=name,
                price_id=price.id,
                price_type="USAGE",
                meter_id=item.meter_id,
                meter_display_name=item.meter_display_name,
                metadata={"description": f"{name} (Usage Charge)"},
            ),
        ),
    )


@in_money_context
def arrear_lines(usage: Usage, ctx: Context, period: periods.Period) -> list[LineDraft]:
    lines = []
    for item in ctx.items:
        price = ctx.prices.get(item.price_id)
        if price is None or not _active(item, period.start, period.end):
            continue
        if item.price_type == "USAGE":
            # Only the usage while the item was on (a plan change ends one and starts another).
            lines.append(_usage_line(usage, ctx, item, price, _window(item, period)))
        elif item.invoice_cadence == "ARREAR" and price.billing_period != "ONETIME":
            lines.append(_fixed_line(ctx, item, price, period))
    return lines


@in_money_context
def advance_lines(
    ctx: Context, period: periods.Period, *, opening: bool, prorated: bool = True
) -> list[LineDraft]:
    """The ADVANCE fixed charges of ``period`` (ONETIME ones too when ``opening``), each for
    the part of the period its line item is on; ``prorated=False``: each for a whole period
    (what a proration credit is a share of)."""
    lines = []
    for item in ctx.items:
        price = ctx.prices.get(item.price_id)
        if price is None or item.price_type != "FIXED" or item.invoice_cadence != "ADVANCE":
            continue
        if not _active(item, period.start, period.end):
            continue
        if price.billing_period == "ONETIME" and not opening:
            continue
        lines.append(_fixed_line(ctx, item, price, period, prorated=prorated))
    return lines


def next_period(sub: Subscription, period: periods.Period) -> periods.Period | None:
    """The period after ``period``, or None when the subscription ends by then."""
    end = periods.next_billing_date(
        period.end, sub.billing_anchor, sub.billing_period, sub.billing_period_count, sub.timezone
    )
    stop = min((d for d in (sub.end_date, sub.cancel_at) if d is not None), default=None)
    if stop is not None and stop <= period.end:
        return None
    if stop is not None and end > stop:
        end = stop
    return periods.Period(period.end, end)


def opening_lines(ctx: Context) -> list[LineDraft]:
    sub = ctx.subscription
    period = periods.Period(sub.current_period_start, sub.current_period_end)
    return advance_lines(ctx, period, opening=True)


def period_end_lines(usage: Usage, ctx: Context, period: periods.Period) -> list[LineDraft]:
    lines = arrear_lines(usage, ctx, period)
    following = next_period(ctx.subscription, period)
    if following is not None:
        lines += advance_lines(ctx, following, opening=False)
    return lines


@in_money_context
def preview_lines(
    usage: Usage, ctx: Context, period: periods.Period
) -> tuple[list[LineDraft], Sequence[LineDraft]]:
    """``(arrear lines of period, advance lines of the next)``."""
    following = next_period(ctx.subscription, period)
    advance = advance_lines(ctx, following, opening=False) if following else []
    return arrear_lines(usage, ctx, period), advance
