"""PERCENTAGE golden cases (a rate on a summed amount, as Lago's percentage charge), exact
amounts; and an oracle: pricing event by event equals the quantity form when no per-event
setting changes the answer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.charge_models import events_amount, model_of, parse, price_amount
from meterline.pricing.charge_models.percentage import Percentage
from meterline.pricing.commands import PercentageInput, PricingInput

D = Decimal


def pct(rate: str, **settings: str | int) -> Percentage:
    values = {
        k: v if isinstance(v, int) and k == "free_units_per_events" else D(str(v))
        for k, v in settings.items()
    }
    return Percentage(rate=D(rate), **values)  # type: ignore[arg-type]


QUANTITY = [
    ("rate only", pct("2.5"), "1000", "25.0"),
    ("rate only, fraction", pct("2.9"), "10.55", "0.30595"),
    ("free amount", pct("2", free_units_per_total_aggregation="100"), "250", "3"),
    ("all free", pct("2", free_units_per_total_aggregation="100"), "80", "0"),
    ("zero rate", pct("0"), "1000", "0"),
    ("all of it", pct("100"), "12.5", "12.5"),
    ("nothing used", pct("2.5"), "0", "0"),
]


@pytest.mark.parametrize(("case", "model", "quantity", "expected"), QUANTITY)
def test_quantity_form(case: str, model: Percentage, quantity: str, expected: str) -> None:
    assert not model.per_event, case
    assert price_amount(model, D(quantity)) == D(expected), case
    assert events_amount(model, [D(quantity)]) == D(expected), case


EVENTS = [
    ("fixed fee per event", pct("1", fixed_amount="0.30"), ["100", "50"], "2.10"),
    (
        "first event free",
        pct("1", fixed_amount="0.3", free_units_per_events=1),
        ["100", "50", "20"],
        "1.30",
    ),
    (
        "free amount crossed by the second event",
        pct("10", fixed_amount="1", free_units_per_total_aggregation="120"),
        ["100", "50", "30"],
        "8",
    ),
    (
        "both free limits, the amount ends first",
        pct(
            "10", fixed_amount="1", free_units_per_events=2, free_units_per_total_aggregation="120"
        ),
        ["100", "50", "30"],
        "8",
    ),
    (
        "both free limits, the event count ends first",
        pct(
            "10", fixed_amount="1", free_units_per_events=1, free_units_per_total_aggregation="500"
        ),
        ["100", "50", "30"],
        "10",
    ),
    (
        "free events only: no fixed fee on them",
        pct("10", free_units_per_events=2),
        ["100", "50", "30"],
        "3",
    ),
    (
        "per-event minimum and maximum",
        pct("1", per_transaction_min_amount="0.5", per_transaction_max_amount="2"),
        ["10", "100", "1000"],
        "3.5",
    ),
    (
        "minimum applies after the fixed fee",
        pct("1", fixed_amount="0.3", per_transaction_min_amount="0.5"),
        ["10", "20"],
        "1.0",
    ),
    (
        "maximum caps the fixed fee too",
        pct("0", fixed_amount="5", per_transaction_max_amount="2"),
        ["1", "1", "1"],
        "6",
    ),
    ("no events", pct("1", fixed_amount="0.3"), [], "0"),
    ("events summing to zero cost nothing", pct("1", fixed_amount="0.3"), ["0", "0"], "0"),
    (
        "a negative event lowers the rate part",
        pct("10", fixed_amount="1"),
        ["100", "-40"],
        "8",
    ),
]


@pytest.mark.parametrize(("case", "model", "values", "expected"), EVENTS)
def test_per_event_form(case: str, model: Percentage, values: list[str], expected: str) -> None:
    assert model.per_event, case
    assert events_amount(model, [D(v) for v in values]) == D(expected), case


AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)


@given(
    values=st.lists(AMOUNTS, max_size=30),
    rate=st.decimals(min_value=0, max_value=100, places=2),
    free=st.one_of(st.none(), AMOUNTS),
)
def test_event_walk_equals_the_quantity_form(
    values: list[Decimal], rate: Decimal, free: Decimal | None
) -> None:
    # A zero minimum forces the event walk without changing any (non-negative) charge.
    walked = Percentage(
        rate, free_units_per_total_aggregation=free, per_transaction_min_amount=D(0)
    )
    quantity_only = Percentage(rate, free_units_per_total_aggregation=free)
    assert walked.per_event and not quantity_only.per_event
    assert events_amount(walked, values) == price_amount(quantity_only, sum(values, D(0)))


def _parse(**settings: object) -> object:
    return parse(PricingInput(billing_model="PERCENTAGE", percentage=PercentageInput(**settings)))  # type: ignore[arg-type]


def test_settings_round_trip_through_storage() -> None:
    stored = _parse(
        rate="2.50",
        fixed_amount=D("0.3"),
        free_units_per_events=3,
        free_units_per_total_aggregation="100",
        per_transaction_min_amount="0.1",
        per_transaction_max_amount="9",
    )
    assert stored.percentage == {  # type: ignore[attr-defined]
        "rate": "2.5",
        "fixed_amount": "0.3",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "100",
        "per_transaction_min_amount": "0.1",
        "per_transaction_max_amount": "9",
    }
    assert model_of(stored) == pct(  # type: ignore[arg-type]
        "2.5",
        fixed_amount="0.3",
        free_units_per_events=3,
        free_units_per_total_aggregation="100",
        per_transaction_min_amount="0.1",
        per_transaction_max_amount="9",
    )


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "percentage.rate"),
        ({"rate": "abc"}, "percentage.rate"),
        ({"rate": "100.01"}, "percentage.rate"),
        ({"rate": "-1"}, "percentage.rate"),
        ({"rate": "1", "fixed_amount": "-0.1"}, "percentage.fixed_amount"),
        ({"rate": "1", "free_units_per_events": 0}, "percentage.free_units_per_events"),
        (
            {"rate": "1", "free_units_per_total_aggregation": "1e30"},
            "percentage.free_units_per_total_aggregation",
        ),
        (
            {"rate": "1", "per_transaction_min_amount": "2", "per_transaction_max_amount": "1"},
            "percentage.per_transaction_max_amount",
        ),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _parse(**settings)
    assert caught.value.field == field


def test_percentage_needs_its_settings_and_only_it_has_them() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(PricingInput(billing_model="PERCENTAGE"))
    assert caught.value.field == "percentage.rate"
    with pytest.raises(InvalidRequest) as caught:
        parse(
            PricingInput(billing_model="FLAT_FEE", amount="1", percentage=PercentageInput(rate="1"))
        )
    assert caught.value.field == "percentage"
