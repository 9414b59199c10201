"""PACKAGE golden cases (reference §6.1 G2–G4, §6.2 G13 and G17), exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.pricing.charge_models import bucketed_amount, price_amount
from meterline.pricing.charge_models.package import Package

D = Decimal

P_50_10 = Package(D(50), divide_by=10)
P_1_100 = Package(D(1), divide_by=100)
P_1_100_DOWN = Package(D(1), divide_by=100, round="down")

GOLDEN = [
    ("G2", P_50_10, "25", "150"),
    *[
        ("G3", P_1_100, q, c)
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
    ("G4", P_1_100, "50", "1"),
    ("G4", P_1_100, "250", "3"),
    ("G4", P_1_100_DOWN, "50", "0"),
    ("G4", P_1_100_DOWN, "250", "2"),
]


@pytest.mark.parametrize(("case", "model", "quantity", "expected"), GOLDEN)
def test_package(case: str, model: Package, quantity: str, expected: str) -> None:
    assert price_amount(model, D(quantity)) == D(expected), case


BUCKETED = [
    ("G13", Package(D(1), divide_by=10), ["9", "10"], "2"),
    ("G17", Package(D(5), divide_by=100), ["50", "150", "200", "99"], "30"),
]


@pytest.mark.parametrize(("case", "model", "buckets", "expected"), BUCKETED)
def test_package_bucketed(case: str, model: Package, buckets: list[str], expected: str) -> None:
    assert bucketed_amount(model, [D(b) for b in buckets]) == D(expected), case
