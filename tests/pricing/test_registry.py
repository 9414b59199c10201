"""The charge-model registry: every model is found from its price, parsed, stored and read
back; unknown models are errors, never a zero amount. Money rounding and display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.kernel.errors import InvalidRequest
from meterline.kernel.money import minor_units, round_money
from meterline.pricing.charge_models import (
    BILLING_MODELS,
    MODELS,
    TIER_MODES,
    StoredPricing,
    model_of,
    parse,
    price_amount,
)
from meterline.pricing.charge_models.flat_fee import FlatFee
from meterline.pricing.charge_models.package import Package
from meterline.pricing.charge_models.percentage import Percentage
from meterline.pricing.charge_models.tiered_slab import TieredSlab
from meterline.pricing.charge_models.tiered_volume import TieredVolume
from meterline.pricing.commands import PercentageInput, PricingInput, TierInput, TransformInput
from meterline.pricing.display import display_amount

D = Decimal
TIERS = (TierInput(10, "1"), TierInput(None, "0.5", "2"))


def test_the_registry_lists_every_model() -> None:
    assert BILLING_MODELS == ("FLAT_FEE", "PACKAGE", "TIERED", "PERCENTAGE")
    assert TIER_MODES == ("VOLUME", "SLAB")
    assert set(MODELS) == {
        ("FLAT_FEE", None),
        ("PACKAGE", None),
        ("TIERED", "VOLUME"),
        ("TIERED", "SLAB"),
        ("PERCENTAGE", None),
    }


@pytest.mark.parametrize(
    ("pricing", "model", "quantity", "expected"),
    [
        (PricingInput("FLAT_FEE", amount="0.5"), FlatFee, "3", "1.5"),
        (
            PricingInput("PACKAGE", amount="5", transform_quantity=TransformInput(10)),
            Package,
            "11",
            "10",
        ),
        (PricingInput("TIERED", tier_mode="VOLUME", tiers=TIERS), TieredVolume, "12", "8.0"),
        (PricingInput("TIERED", tier_mode="SLAB", tiers=TIERS), TieredSlab, "12", "13.0"),
        (
            PricingInput("PERCENTAGE", percentage=PercentageInput(rate="10")),
            Percentage,
            "12",
            "1.2",
        ),
    ],
)
def test_parse_store_and_price_each_model(
    pricing: PricingInput, model: type, quantity: str, expected: str
) -> None:
    stored = parse(pricing)
    found = model_of(stored)
    assert isinstance(found, model)
    assert price_amount(found, D(quantity)) == D(expected)


def test_tiered_tiers_are_stored_as_text() -> None:
    stored = parse(PricingInput("TIERED", tier_mode="SLAB", tiers=TIERS))
    assert stored.tiers == [
        {"up_to": 10, "unit_amount": "1"},
        {"up_to": None, "unit_amount": "0.5", "flat_amount": "2"},
    ]


@pytest.mark.parametrize(
    ("pricing", "field"),
    [
        (PricingInput("BESPOKE"), "billing_model"),
        (PricingInput(None), "billing_model"),
        (PricingInput("FLAT_FEE"), "amount"),
        (PricingInput("FLAT_FEE", amount="x"), "amount"),
        (PricingInput("PACKAGE", amount="1"), "transform_quantity.divide_by"),
        (
            PricingInput("PACKAGE", amount="1", transform_quantity=TransformInput(2, "sideways")),
            "transform_quantity.round",
        ),
        (PricingInput("TIERED", tiers=TIERS), "tier_mode"),
        (PricingInput("TIERED", tier_mode="STAIRS", tiers=TIERS), "tier_mode"),
        (PricingInput("TIERED", tier_mode="SLAB", tiers=()), "tiers"),
        (
            PricingInput(
                "TIERED", tier_mode="SLAB", tiers=(TierInput(None, "1"), TierInput(5, "1"))
            ),
            "tiers[0].up_to",
        ),
        (
            PricingInput("TIERED", tier_mode="SLAB", tiers=(TierInput(5, "1"), TierInput(5, "1"))),
            "tiers[1].up_to",
        ),
        (PricingInput("TIERED", tier_mode="SLAB", tiers=(TierInput(0, "1"),)), "tiers[0].up_to"),
        (
            PricingInput("TIERED", tier_mode="SLAB", tiers=(TierInput(None, "-1"),)),
            "tiers[0].unit_amount",
        ),
    ],
)
def test_bad_pricing_names_the_field(pricing: PricingInput, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(pricing)
    assert caught.value.field == field


def test_unknown_stored_models_are_errors_not_zero() -> None:
    with pytest.raises(ValueError, match="tier_mode"):
        model_of(
            StoredPricing("TIERED", tier_mode=None, tiers=[{"up_to": None, "unit_amount": "1"}])
        )
    with pytest.raises(ValueError, match="billing_model"):
        model_of(StoredPricing("BESPOKE"))


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
