"""PERCENTAGE (a Meterline extension of the Flexprice price wire, after Lago's percentage
charge): a rate on the summed amount of a SUM meter, e.g. a fee on payment volume.

Wire: ``billing_model: "PERCENTAGE"`` and a ``percentage`` object:

* ``rate`` (required): percent, 0 to 100; the amount of an event is its meter value;
* ``fixed_amount``: charged once per paid event, on top of the rate;
* ``free_units_per_events``: the first N events of the period are free;
* ``free_units_per_total_aggregation``: the first X of the summed amount is free;
  with both, the free part ends at whichever is reached first (an event that crosses X pays
  the rate on its part above X, and its fixed amount);
* ``per_transaction_min_amount`` / ``per_transaction_max_amount``: each paid event's charge
  (rate part + fixed amount) is raised to the minimum / lowered to the maximum.

Amounts are non-negative bounded decimals, ``free_units_per_events`` an integer ≥ 1, min ≤
max. Stored in the price's ``percentage`` column (texts, as ``tiers``).

Pricing: events are taken in time order. Without a per-event setting (``fixed_amount``,
``free_units_per_events``, min or max) the charge needs only the period's quantity:
``max(0, quantity − free_units_per_total_aggregation) × rate / 100``; with one, each event is
priced on its own and the charges summed (``events_amount``), the free part first. When the
summed amount is zero or less the charge is zero, as for every model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.charge_models.base import ZERO, StoredPricing, text
from meterline.pricing.commands import PercentageInput, PricingInput
from meterline.pricing.fields import decimal_of, optional_decimal

HUNDRED = Decimal(100)
_AMOUNTS = (
    "fixed_amount",
    "free_units_per_total_aggregation",
    "per_transaction_min_amount",
    "per_transaction_max_amount",
)


@dataclass(frozen=True)
class Percentage:
    billing_model: ClassVar[str] = "PERCENTAGE"
    tier_mode: ClassVar[str | None] = None

    rate: Decimal
    fixed_amount: Decimal | None = None
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None
    per_transaction_min_amount: Decimal | None = None
    per_transaction_max_amount: Decimal | None = None

    @classmethod
    def parse(cls, pricing: PricingInput) -> StoredPricing:
        raw = pricing.percentage
        if raw is None:
            raise InvalidRequest("PERCENTAGE prices need percentage.rate", field="percentage.rate")
        return StoredPricing(cls.billing_model, percentage=_settings(raw))

    @classmethod
    def from_stored(cls, stored: StoredPricing) -> Percentage:
        raw = stored.percentage or {}
        amounts = {name: None if raw.get(name) is None else Decimal(raw[name]) for name in _AMOUNTS}
        events = raw.get("free_units_per_events")
        return cls(
            rate=Decimal(raw.get("rate") or 0),
            free_units_per_events=None if events is None else int(events),
            **amounts,
        )

    @property
    def per_event(self) -> bool:
        return any(
            value is not None
            for value in (
                self.fixed_amount,
                self.free_units_per_events,
                self.per_transaction_min_amount,
                self.per_transaction_max_amount,
            )
        )

    def amount(self, quantity: Decimal) -> Decimal:
        """The quantity-only form (no per-event setting): the rate on the paid part."""
        free = self.free_units_per_total_aggregation or ZERO
        return max(ZERO, quantity - free) * self.rate / HUNDRED

    def events_amount(self, values: Sequence[Decimal]) -> Decimal:
        if sum(values, ZERO) <= 0:
            return ZERO
        if not self.per_event:
            return self.amount(sum(values, ZERO))
        free_events = self.free_units_per_events
        free_value = self.free_units_per_total_aggregation
        in_free_part = free_events is not None or free_value is not None
        total = ZERO
        for value in values:
            if in_free_part:
                if free_events is not None:
                    free_events -= 1
                if free_value is None or value <= free_value:
                    if free_value is not None and value > 0:
                        free_value -= value
                    in_free_part = free_events != 0 and free_value != 0
                    continue
                value -= free_value  # crosses the free amount: the rest is paid
                in_free_part = False
            total += self._event_charge(value)
        return total

    def _event_charge(self, value: Decimal) -> Decimal:
        charge = value * self.rate / HUNDRED + (self.fixed_amount or ZERO)
        if self.per_transaction_min_amount is not None:
            charge = max(charge, self.per_transaction_min_amount)
        if self.per_transaction_max_amount is not None:
            charge = min(charge, self.per_transaction_max_amount)
        return charge


def _settings(raw: PercentageInput) -> dict[str, Any]:
    if raw.rate is None or raw.rate == "":
        raise InvalidRequest("PERCENTAGE prices need percentage.rate", field="percentage.rate")
    rate = decimal_of(raw.rate, "percentage.rate")
    if rate > HUNDRED:
        raise InvalidRequest("percentage.rate must be at most 100", field="percentage.rate")
    out: dict[str, Any] = {"rate": text(rate)}
    if raw.free_units_per_events is not None:
        if raw.free_units_per_events < 1:
            raise InvalidRequest(
                "percentage.free_units_per_events must be an integer of at least 1",
                field="percentage.free_units_per_events",
            )
        out["free_units_per_events"] = raw.free_units_per_events
    parsed: dict[str, Decimal] = {}
    for name in _AMOUNTS:
        value = optional_decimal(getattr(raw, name), f"percentage.{name}")
        if value is not None:
            parsed[name] = value
            out[name] = text(value)
    low = parsed.get("per_transaction_min_amount")
    high = parsed.get("per_transaction_max_amount")
    if low is not None and high is not None and high < low:
        raise InvalidRequest(
            "percentage.per_transaction_max_amount must not be below the minimum",
            field="percentage.per_transaction_max_amount",
        )
    return out
