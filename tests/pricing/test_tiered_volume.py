"""TIERED / VOLUME golden cases (reference §6.1 G5, G10, G11; §6.2 G15, G19), exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.pricing.charge_models import bucketed_amount, price_amount
from meterline.pricing.charge_models.tiered_volume import TieredVolume
from tests.pricing.golden import tiers

D = Decimal

T3 = TieredVolume(tiers((10, "50"), (20, "40"), (None, "30")))
FIXED = TieredVolume(tiers((10, "5"), (50, "3")))
WITH_FLAT = TieredVolume(tiers((1000, "0.01", "5"), (None, "0.008", "10")))

GOLDEN = [
    *[
        ("G5", T3, q, c)
        for q, c in [
            ("5", "250"),
            ("15", "600"),
            ("25", "750"),
            ("10", "500"),
            ("10.5", "420"),
            ("20", "800"),
        ]
    ],
    ("G10", FIXED, "20", "60"),
    ("G10", FIXED, "60", "180"),  # beyond the last bounded tier: the last tier's price
    ("G11", WITH_FLAT, "1000", "15.00"),
    ("G11", WITH_FLAT, "1500", "22.00"),
    ("-", WITH_FLAT, "0", "0"),  # no flat tier fee on zero usage
]


@pytest.mark.parametrize(("case", "model", "quantity", "expected"), GOLDEN)
def test_volume(case: str, model: TieredVolume, quantity: str, expected: str) -> None:
    assert price_amount(model, D(quantity)) == D(expected), case


T_BUCKET = TieredVolume(tiers((10, "0.10"), (20, "0.05"), (None, "0.02")))


@pytest.mark.parametrize(
    ("case", "buckets", "expected"), [("G15", ["9", "15"], "1.65"), ("G19", ["5", "15"], "1.25")]
)
def test_volume_bucketed(case: str, buckets: list[str], expected: str) -> None:
    assert bucketed_amount(T_BUCKET, [D(b) for b in buckets]) == D(expected), case


def test_tiers_given_out_of_order_are_priced_in_order() -> None:
    shuffled = TieredVolume((T3.tiers[2], T3.tiers[0], T3.tiers[1]))
    assert price_amount(shuffled, D(15)) == D(600)
