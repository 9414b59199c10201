"""TIERED / SLAB golden cases (reference §6.1 G6–G10; §6.2 G14, G18), exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.pricing.charge_models import bucketed_amount, price_amount
from meterline.pricing.charge_models.tiered_slab import TieredSlab
from tests.pricing.golden import tiers

D = Decimal

T3 = TieredSlab(tiers((10, "50"), (20, "40"), (None, "30")))
FREE_FIRST = TieredSlab(tiers((5, "0"), (10, "2"), (None, "3")))
WITH_FLAT = TieredSlab(tiers((5, "0", "1"), (10, "1", "2"), (None, "2", "0")))
S123 = TieredSlab(tiers((1, "10"), (2, "20"), (None, "30")))

GOLDEN = [
    *[
        ("G6", T3, q, c)
        for q, c in [
            ("5", "250"),
            ("15", "700"),
            ("25", "1050"),
            ("10", "500"),
            ("10.5", "520"),
            ("20", "900"),
        ]
    ],
    *[
        ("G7", FREE_FIRST, q, c)
        for q, c in [("3", "0"), ("5", "0"), ("7", "4"), ("10", "10"), ("11", "13"), ("15", "25")]
    ],
    *[
        ("G8", WITH_FLAT, q, c)
        for q, c in [("3", "1"), ("7", "5"), ("12", "12"), ("5", "1"), ("10", "8")]
    ],
    *[
        ("G9", S123, q, c)
        for q, c in [("0", "0"), ("1", "10"), ("2", "30"), ("3", "60"), ("2.5", "45")]
    ],
    ("G10", TieredSlab(tiers((10, "5"), (50, "3"))), "20", "80"),
]


@pytest.mark.parametrize(("case", "model", "quantity", "expected"), GOLDEN)
def test_slab(case: str, model: TieredSlab, quantity: str, expected: str) -> None:
    assert price_amount(model, D(quantity)) == D(expected), case


BUCKETED = [
    ("G14", TieredSlab(tiers((10, "0.10"), (20, "0.05"), (None, "0.02"))), ["9", "15"], "2.15"),
    ("G18", TieredSlab(tiers((10, "1"), (None, "2"))), ["3", "12"], "17"),
]


@pytest.mark.parametrize(("case", "model", "buckets", "expected"), BUCKETED)
def test_slab_bucketed(case: str, model: TieredSlab, buckets: list[str], expected: str) -> None:
    assert bucketed_amount(model, [D(b) for b in buckets]) == D(expected), case


def test_tiers_given_out_of_order_are_priced_in_order() -> None:
    shuffled = TieredSlab((T3.tiers[2], T3.tiers[0], T3.tiers[1]))
    assert price_amount(shuffled, D(25)) == D(1050)
