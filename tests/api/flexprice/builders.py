"""Catalog rows the billing tests build through the SDK: a metered feature summing a
``tokens`` property, and plan prices with the usual monthly USD defaults."""

from __future__ import annotations

from typing import Any

from flexprice import Flexprice

from tests.conftest import unique


def tokens_feature(fp: Flexprice, name: str = "Tokens", event: str = "tok") -> Any:
    """A metered feature whose meter sums the ``tokens`` property of ``event``-named events
    (the name made unique), reset every billing period."""
    return fp.features.create_feature(
        name=name,
        type_="metered",
        lookup_key=unique("tokens"),
        meter={
            "name": "tokens",
            "event_name": unique(event),
            "aggregation": {"type": "SUM", "field": "tokens"},
            "reset_usage": "BILLING_PERIOD",
        },
    )


def plan_price(fp: Flexprice, plan_id: str, **fields: Any) -> Any:
    """A price of the plan: monthly, in usd, unless ``fields`` say otherwise."""
    defaults = {
        "entity_type": "PLAN",
        "entity_id": plan_id,
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
    }
    return fp.prices.create_price(**{**defaults, **fields})
