"""FLAT_FEE golden cases (reference §6.1 G1, §6.2 G12 and G16), exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.pricing.charge_models import bucketed_amount, events_amount, price_amount
from meterline.pricing.charge_models.flat_fee import FlatFee

D = Decimal

GOLDEN = [("G1", "100", "5", "500"), ("G1", "100", "0", "0"), ("-", "0.02", "500", "10.00")]


@pytest.mark.parametrize(("case", "unit", "quantity", "expected"), GOLDEN)
def test_flat_fee(case: str, unit: str, quantity: str, expected: str) -> None:
    assert price_amount(FlatFee(D(unit)), D(quantity)) == D(expected), case


BUCKETED = [
    ("G12", ["9", "10"], "1.90"),
    ("G16", ["0", "5", "0"], "0.50"),
    ("G16", [], "0"),
]


@pytest.mark.parametrize(("case", "buckets", "expected"), BUCKETED)
def test_flat_fee_bucketed(case: str, buckets: list[str], expected: str) -> None:
    assert bucketed_amount(FlatFee(D("0.10")), [D(b) for b in buckets]) == D(expected), case


def test_events_are_priced_as_their_sum() -> None:
    model = FlatFee(D("0.10"))
    assert not model.per_event
    assert events_amount(model, [D(3), D(4)]) == D("0.70")
    assert events_amount(model, [D(3), D(-4)]) == 0
