"""kernel.money: the bounds of quantities, prices and amounts, the one rounding and the one
decimal context (pure, golden cases)."""

from __future__ import annotations

from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from meterline.kernel import money

D = Decimal
LARGEST = "99999999999999999999999999.999999999999"  # 26 digits . 12 digits


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "0E-40",
        "0E+40",
        "1",
        "1E+25",
        LARGEST,
        "-" + LARGEST,
        "0.000000000001",
        "1.50000000000000000000",
        "12345678901234567890.123456789012",
    ],
)
def test_within_the_bounds(text: str) -> None:
    assert money.within(D(text))
    assert money.check(D(text), "amount") == D(text)


@pytest.mark.parametrize(
    "text",
    [
        "1E+26",
        "100000000000000000000000000",
        "-1E+26",
        "1e999999",
        "0.0000000000004",
        "1.0000000000001",
        "NaN",
        "Infinity",
        "-Infinity",
        "sNaN",
    ],
)
def test_outside_the_bounds(text: str) -> None:
    assert not money.within(D(text))
    with pytest.raises(ValueError, match=r"^amount "):
        money.check(D(text), "amount")


def test_places_ignore_trailing_zeros() -> None:
    assert money.within(D("1.500000000000000000000"))
    assert money.within(D("0.000000000001000"))
    assert money.within(D("1E+3"))
    assert not money.within(D("0.0000000000010001"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", "7"),
        ("1e999999", "0"),  # out of bounds: counts as 0, never expanded
        ("-1E+26", "0"),
        ("NaN", "0"),
        ("0.0000000000005", "0.000000000001"),  # rounded to the store's 12 places
        ("-0.0000000000005", "-0.000000000001"),  # half away from zero
        ("1.23456789012345", "1.234567890123"),
        (LARGEST, LARGEST),
        ("99999999999999999999999999.9999999999995", "0"),  # rounds to 10^26: out
        ("1e-9999999", "0"),
    ],
)
def test_event_values_count_bounded(text: str, expected: str) -> None:
    assert money.bounded_or_zero(D(text)) == D(expected)
    assert str(money.bounded_or_zero(D("1e999999"))) == "0"


@pytest.mark.parametrize(
    ("amount", "units", "expected"),
    [
        ("2.345", 2, "2.35"),
        ("-2.345", 2, "-2.35"),  # ties away from zero, negative too
        ("2.344", 2, "2.34"),
        ("0.5", 0, "1"),
        ("-0.5", 0, "-1"),
        ("1.00005", 4, "1.0001"),
        (LARGEST, 2, "100000000000000000000000000.00"),  # 29 digits: the default context fails
    ],
)
def test_round_money_half_away_from_zero(amount: str, units: int, expected: str) -> None:
    assert str(money.round_money(D(amount), units)) == expected


def test_the_context_is_wide_enough_for_the_bounds_and_traps() -> None:
    largest = D(LARGEST)
    # The default context (28 digits) rounds these; the money context keeps every digit.
    assert money.MONEY_CONTEXT.add(largest, D("0.000000000001")) == D(10) ** 26
    product = money.MONEY_CONTEXT.multiply(largest, largest)
    assert int(product.scaleb(24)) == int(largest.scaleb(12)) ** 2  # every one of 76 digits
    assert money.total([largest, D("-0.000000000001")]) == D(
        "99999999999999999999999999.999999999998"
    )
    assert sum([largest, D("-0.000000000001")]) != money.total([largest, D("-0.000000000001")])
    with localcontext(money.MONEY_CONTEXT):
        assert sum([D("12345678901234567890.123456789012")] * 3) == D(
            "37037036703703703670.370370367036"
        )
        with pytest.raises(InvalidOperation):
            D("Infinity") - D("Infinity")
        with pytest.raises(DivisionByZero):
            D(1) / D(0)


def test_in_money_context_runs_a_function_in_it() -> None:
    @money.in_money_context
    def add(left: Decimal, right: Decimal) -> Decimal:
        return left + right

    assert add(D(LARGEST), D("0.000000000001")) == D(10) ** 26
    assert D(LARGEST) + D("0.000000000001") == D("1.000000000000000000000000000E+26")


def test_saturate_holds_a_total_at_the_largest_value() -> None:
    assert money.saturate(D("1E+27")) == D(LARGEST)
    assert money.saturate(D("-1E+27")) == -D(LARGEST)
    assert money.saturate(D(5)) == D(5)


def test_decimal_text_has_no_exponent() -> None:
    assert money.decimal_text(D("1.500")) == "1.5"
    assert money.decimal_text(D("1E+3")) == "1000"
    assert money.decimal_text(D("-0E-5")) == "0"
    assert money.decimal_text(D(LARGEST)) == LARGEST


class _Body(BaseModel):
    amount: money.Amount | None = None
    quantity: money.Quantity | None = None
    price: money.Price | None = None


@pytest.mark.parametrize("field", ["amount", "quantity", "price"])
@pytest.mark.parametrize("value", ["1e26", "1e999999", "0.0000000000004", 1e30, "NaN"])
def test_wire_types_refuse_out_of_bound_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate({field: value})
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)


def test_wire_types_accept_bounded_strings_and_numbers() -> None:
    body = _Body.model_validate({"amount": LARGEST, "quantity": 3, "price": "0.000000000001"})
    assert body.amount == D(LARGEST)
    assert body.quantity == 3
    assert body.price == D("0.000000000001")


def _by_definition(value: Decimal) -> bool:
    """The bounds read off the digits: |value| < 10^26 and at most 12 places."""
    if not value.is_finite():
        return False
    if not value:
        return True
    text = format(value.normalize(money.MONEY_CONTEXT), "f").lstrip("-")
    whole, _, fraction = text.partition(".")
    return len(whole.lstrip("0")) <= money.INTEGER_DIGITS and len(fraction) <= 12


_decimals = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1),
    st.text("0123456789", min_size=1, max_size=40),
    st.integers(-60, 40),
) | st.sampled_from([D("NaN"), D("Infinity"), D("-Infinity"), D("1e999999"), D("1e-999999")])


@given(_decimals)
def test_the_checks_agree_with_the_definition(value: Decimal) -> None:
    assert money.within(value) == _by_definition(value)
    counted = money.bounded_or_zero(value)
    assert money.within(counted)
    if money.within(value):
        assert counted == value
    elif value.is_finite() and abs(value) < money.LIMIT:
        # Only more places than the store keeps: rounded there, half away from zero (and
        # 0 if that rounds up to 10^26).
        rounded = money.round_money(value, money.FRACTION_DIGITS)
        assert counted == (rounded if money.within(rounded) else 0)
    else:
        assert counted == 0
