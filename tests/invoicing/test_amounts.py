"""Invoice arithmetic: rounding per currency, totals, discounts (reference §6.6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterline.invoicing.amounts import capped_discount, invoice_totals, percent_of
from meterline.kernel.money import is_currency, minor_units, round_money

D = Decimal


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("usd", 2),
        ("EUR", 2),
        ("inr", 2),
        ("jpy", 0),
        ("krw", 0),
        ("vnd", 0),
        ("clp", 0),
        ("kwd", 3),
        ("clf", 4),
        # ISO 4217's minor units, where CLDR's cash digits (Babel's) say 0.
        ("iqd", 3),
        ("idr", 2),
        ("huf", 2),
        ("cop", 2),
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "usd", "1.01"),
        ("-1.005", "usd", "-1.01"),
        ("1.004999", "usd", "1.00"),
        ("2.5", "jpy", "3"),
        ("-2.5", "jpy", "-3"),
        ("0.0005", "kwd", "0.001"),
        ("5.483870967", "usd", "5.48"),
    ],
)
def test_round_money_is_half_away_from_zero(amount: str, currency: str, expected: str) -> None:
    assert round_money(D(amount), minor_units(currency)) == D(expected)
    assert str(round_money(D(amount), minor_units(currency))) == expected


def test_unknown_currency_is_not_a_currency() -> None:
    assert is_currency("usd") and is_currency("JPY")
    assert not is_currency("xyz") and not is_currency("us") and not is_currency("dollar")
    # Metals, funds and the testing code have no minor units: no line can be rounded in them.
    assert not is_currency("xau") and not is_currency("XDR") and not is_currency("xts")
    with pytest.raises(ValueError):
        minor_units("xyz")


@pytest.mark.parametrize(
    ("subtotal", "percent", "currency", "discount", "final"),
    [
        ("10.00", "15.5", "usd", "1.55", "8.45"),
        ("10.00", "33.333", "usd", "3.33", "6.67"),
        ("1000", "33.333", "jpy", "333", "667"),
        ("1.00", "0.1", "usd", "0.00", "1.00"),
    ],
)
def test_percent_discounts_golden(
    subtotal: str, percent: str, currency: str, discount: str, final: str
) -> None:
    off = percent_of(D(subtotal), D(percent), currency)
    assert off == D(discount)
    totals = invoice_totals([D(subtotal)], currency, discount=off)
    assert totals.total == D(final)


def test_fixed_discount_larger_than_invoice_is_clamped() -> None:
    off = capped_discount(D("5.00"), D("10"))
    assert off == D("5.00")
    assert invoice_totals([D("5.00")], "usd", discount=D("10")).total == D("0.00")


def test_totals_of_a_typical_invoice() -> None:
    totals = invoice_totals(
        [D("12.50"), D("10.00")], "usd", prepaid_credits=D("7.25"), amount_paid=D("5")
    )
    assert totals.subtotal == D("22.50")
    assert totals.total_prepaid_credits_applied == D("7.25")
    assert totals.total == D("15.25")
    assert totals.amount_due == D("15.25")
    assert totals.amount_remaining == D("10.25")


def test_lines_are_rounded_before_they_are_summed() -> None:
    # three lines of 0.005 each: rounded once per line (0.01 × 3), never 0.015 → 0.02
    assert invoice_totals([D("0.005")] * 3, "usd").subtotal == D("0.03")


amounts = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False)


@given(
    lines=st.lists(amounts, max_size=30),
    prepaid=amounts,
    discount=amounts,
    currency=st.sampled_from(["usd", "jpy", "kwd"]),
)
def test_total_is_lines_less_credits_and_never_negative(
    lines: list[Decimal], prepaid: Decimal, discount: Decimal, currency: str
) -> None:
    totals = invoice_totals(lines, currency, prepaid_credits=prepaid, discount=discount)
    rounded = sum((round_money(a, minor_units(currency)) for a in lines), D(0))
    assert totals.subtotal == rounded
    assert totals.total >= 0
    expected = (
        rounded
        - round_money(prepaid, minor_units(currency))
        - round_money(discount, minor_units(currency))
    )
    assert totals.total == max(D(0), expected)
    assert totals.total == round_money(totals.total, minor_units(currency))


# ---- entitlements in billing (reference §6.3): FLAT_FEE 0.02/unit, 500 units, monthly ----

from meterline.invoicing.amounts import Grant, billable_quantity, combine_grants  # noqa: E402
from meterline.pricing.charge_models import price_amount  # noqa: E402
from meterline.pricing.charge_models.flat_fee import FlatFee  # noqa: E402

UNIT_PRICE = FlatFee(D("0.02"))


@pytest.mark.parametrize(
    ("grants", "amount", "covered"),
    [
        ([Grant(True, D(1000), "MONTHLY")], "0", "500"),
        ([Grant(True, D(100), "MONTHLY")], "8", "100"),
        ([Grant(True, None, "MONTHLY")], "0", "500"),
        ([Grant(True, D(100), "MONTHLY", is_soft_limit=True)], "8", "100"),
        ([Grant(False, D(1000), "MONTHLY")], "10", None),
        ([], "10", None),
        ([Grant(True, D(100), "MONTHLY"), Grant(True, D(150), "MONTHLY")], "5", "250"),
    ],
)
def test_entitlement_adjusted_usage_golden(
    grants: list[Grant], amount: str, covered: str | None
) -> None:
    billable, adjusted = billable_quantity([D(500)], combine_grants(grants))
    assert round_money(price_amount(UNIT_PRICE, billable), minor_units("usd")) == D(amount)
    assert adjusted == (None if covered is None else D(covered))


def test_daily_reset_gives_each_day_its_own_allowance() -> None:
    allowance = combine_grants([Grant(True, D(100), "DAILY")])
    billable, covered = billable_quantity([D(150), D(50), D(300)], allowance)
    assert (billable, covered) == (D(250), D(250))


from meterline.invoicing.amounts import uncovered_buckets  # noqa: E402


@pytest.mark.parametrize(
    ("buckets", "covered", "expected"),
    [
        (["9", "15"], "12", ["0", "12"]),
        (["9", "15"], None, ["9", "15"]),
        (["9", "15"], "0", ["9", "15"]),
        (["9", "15"], "24", ["0", "0"]),
        (["0", "5", "0"], "2", ["0", "3", "0"]),
        ([], "3", []),
    ],
)
def test_entitlement_empties_the_earliest_buckets_first(
    buckets: list[str], covered: str | None, expected: list[str]
) -> None:
    got = uncovered_buckets([Decimal(b) for b in buckets], Decimal(covered) if covered else None)
    assert got == [Decimal(e) for e in expected]
