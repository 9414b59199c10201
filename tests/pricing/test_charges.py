"""Golden cases of the price maths (reference §6.1 and §6.2), exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.kernel.money import minor_units, round_money
from meterline.pricing.charges import (
    PriceSpec,
    Tier,
    bucketed_amount,
    display_amount,
    price_amount,
)

D = Decimal


def tiers(*rows: tuple[int | None, str] | tuple[int | None, str, str]) -> tuple[Tier, ...]:
    out = []
    for row in rows:
        up_to = None if row[0] is None else D(row[0])
        flat = D(row[2]) if len(row) == 3 else D(0)  # type: ignore[misc]
        out.append(Tier(up_to=up_to, unit_amount=D(row[1]), flat_amount=flat))
    return tuple(out)


FLAT_100 = PriceSpec("FLAT_FEE", amount=D(100))
PACKAGE_50_10 = PriceSpec("PACKAGE", amount=D(50), divide_by=10)
PACKAGE_1_100 = PriceSpec("PACKAGE", amount=D(1), divide_by=100)
PACKAGE_1_100_DOWN = PriceSpec("PACKAGE", amount=D(1), divide_by=100, round="down")
T3 = tiers((10, "50"), (20, "40"), (None, "30"))
VOLUME_3 = PriceSpec("TIERED", tier_mode="VOLUME", tiers=T3)
SLAB_3 = PriceSpec("TIERED", tier_mode="SLAB", tiers=T3)
SLAB_FREE = PriceSpec("TIERED", tier_mode="SLAB", tiers=tiers((5, "0"), (10, "2"), (None, "3")))
SLAB_FLAT = PriceSpec(
    "TIERED", tier_mode="SLAB", tiers=tiers((5, "0", "1"), (10, "1", "2"), (None, "2", "0"))
)
SLAB_123 = PriceSpec("TIERED", tier_mode="SLAB", tiers=tiers((1, "10"), (2, "20"), (None, "30")))
FIXED_TIERS = tiers((10, "5"), (50, "3"))
VOLUME_FLAT = PriceSpec(
    "TIERED", tier_mode="VOLUME", tiers=tiers((1000, "0.01", "5"), (None, "0.008", "10"))
)

GOLDEN = [
    ("G1", FLAT_100, "5", "500"),
    ("G1", FLAT_100, "0", "0"),
    ("G2", PACKAGE_50_10, "25", "150"),
    *[
        ("G3", PACKAGE_1_100, q, c)
        for q, c in [
            ("2", "1"),
            ("99", "1"),
            ("100", "1"),
            ("101", "2"),
            ("150", "2"),
            ("300", "3"),
            ("0", "0"),
        ]
    ],
    ("G4", PACKAGE_1_100, "50", "1"),
    ("G4", PACKAGE_1_100, "250", "3"),
    ("G4", PACKAGE_1_100_DOWN, "50", "0"),
    ("G4", PACKAGE_1_100_DOWN, "250", "2"),
    *[
        ("G5", VOLUME_3, q, c)
        for q, c in [
            ("5", "250"),
            ("15", "600"),
            ("25", "750"),
            ("10", "500"),
            ("10.5", "420"),
            ("20", "800"),
        ]
    ],
    *[
        ("G6", SLAB_3, q, c)
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
        ("G7", SLAB_FREE, q, c)
        for q, c in [("3", "0"), ("5", "0"), ("7", "4"), ("10", "10"), ("11", "13"), ("15", "25")]
    ],
    *[
        ("G8", SLAB_FLAT, q, c)
        for q, c in [("3", "1"), ("7", "5"), ("12", "12"), ("5", "1"), ("10", "8")]
    ],
    *[
        ("G9", SLAB_123, q, c)
        for q, c in [("0", "0"), ("1", "10"), ("2", "30"), ("3", "60"), ("2.5", "45")]
    ],
    ("G10", PriceSpec("TIERED", tier_mode="SLAB", tiers=FIXED_TIERS), "20", "80"),
    ("G10", PriceSpec("TIERED", tier_mode="VOLUME", tiers=FIXED_TIERS), "20", "60"),
    ("G11", VOLUME_FLAT, "1000", "15.00"),
    ("G11", VOLUME_FLAT, "1500", "22.00"),
]


@pytest.mark.parametrize(("case", "spec", "quantity", "expected"), GOLDEN)
def test_golden_price_amounts(case: str, spec: PriceSpec, quantity: str, expected: str) -> None:
    assert price_amount(spec, D(quantity)) == D(expected), case


def test_tiers_given_out_of_order_are_priced_in_order() -> None:
    shuffled = PriceSpec("TIERED", tier_mode="SLAB", tiers=(T3[2], T3[0], T3[1]))
    assert price_amount(shuffled, D(25)) == D(1050)


def test_unknown_tier_mode_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError):
        price_amount(PriceSpec("TIERED", tiers=T3), D(5))


T_BUCKET = tiers((10, "0.10"), (20, "0.05"), (None, "0.02"))
BUCKETED = [
    ("G12", PriceSpec("FLAT_FEE", amount=D("0.10")), ["9", "10"], "1.90"),
    ("G13", PriceSpec("PACKAGE", amount=D(1), divide_by=10), ["9", "10"], "2"),
    ("G14", PriceSpec("TIERED", tier_mode="SLAB", tiers=T_BUCKET), ["9", "15"], "2.15"),
    ("G15", PriceSpec("TIERED", tier_mode="VOLUME", tiers=T_BUCKET), ["9", "15"], "1.65"),
    ("G16", PriceSpec("FLAT_FEE", amount=D("0.10")), ["0", "5", "0"], "0.50"),
    ("G16", PriceSpec("FLAT_FEE", amount=D("0.10")), [], "0"),
    ("G17", PriceSpec("PACKAGE", amount=D(5), divide_by=100), ["50", "150", "200", "99"], "30"),
    (
        "G18",
        PriceSpec("TIERED", tier_mode="SLAB", tiers=tiers((10, "1"), (None, "2"))),
        ["3", "12"],
        "17",
    ),
    ("G19", PriceSpec("TIERED", tier_mode="VOLUME", tiers=T_BUCKET), ["5", "15"], "1.25"),
]


@pytest.mark.parametrize(("case", "spec", "buckets", "expected"), BUCKETED)
def test_golden_bucketed_amounts(
    case: str, spec: PriceSpec, buckets: list[str], expected: str
) -> None:
    assert bucketed_amount(spec, [D(b) for b in buckets]) == D(expected), case


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "usd", "1.01"),
        ("-1.005", "USD", "-1.01"),
        ("2.675", "eur", "2.68"),
        ("0.004", "usd", "0.00"),
        ("332.5", "jpy", "333"),
        ("1.0005", "kwd", "1.001"),
        ("1.00005", "clf", "1.0001"),
        ("12.345", "inr", "12.35"),
    ],
)
def test_round_money_half_away_from_zero_to_minor_units(
    amount: str, currency: str, expected: str
) -> None:
    rounded = round_money(D(amount), minor_units(currency))
    assert rounded == D(expected)
    assert str(rounded) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.02", "usd", "$0.02"),
        ("100", "USD", "$100"),
        ("10.50", "eur", "€10.5"),
        ("5", "inr", "₹5"),
    ],
)
def test_display_amount(amount: str, currency: str, expected: str) -> None:
    assert display_amount(D(amount), currency) == expected
