"""Golden cases of the coupon arithmetic (``discounts.compute``), with exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.discounts.compute import Discount, Line, apply
from meterline.invoicing.amounts import invoice_totals
from meterline.taxes.compute import exclusive_tax

D = Decimal


def _lines(*amounts: str, prices: tuple[str | None, ...] = ()) -> list[Line]:
    return [
        Line(f"l{i}", D(a), prices[i] if i < len(prices) else None) for i, a in enumerate(amounts)
    ]


@pytest.mark.parametrize(
    ("amounts", "discounts", "currency", "total", "per_line"),
    [
        # 10 % of 49.99 = 4.999 → 5.00 (half away from zero, once).
        (("49.99",), [("percentage", "10", None)], "usd", "5.00", ["5.00"]),
        # A fixed amount above the invoice takes the invoice to zero, no further.
        (("3.50",), [("fixed", "5", None)], "usd", "3.50", ["3.50"]),
        # Two invoice coupons, one after the other: 20 off 100, then 10 % of 80.
        (("60", "40"), [("fixed", "20", None), ("percentage", "10", None)], "usd", "28", None),
        # Spread in proportion: 10 off (1 + 2) → 3.33 + 6.67 exactly.
        (("1.00", "2.00"), [("fixed", "10", None)], "usd", "3.00", ["1.00", "2.00"]),
        (("10.00", "20.00"), [("fixed", "10", None)], "usd", "10.00", ["3.33", "6.67"]),
        # jpy has no minor units: 33.333 % of 1000 → 333.
        (("1000",), [("percentage", "33.333", None)], "jpy", "333", ["333"]),
        # kwd has three: 12.5 % of 1.001 → 0.125125 → 0.125.
        (("1.001",), [("percentage", "12.5", None)], "kwd", "0.125", ["0.125"]),
        # A credit line (cancellation) is no part of the base.
        (("30.00", "-10.00"), [("percentage", "50", None)], "usd", "15.00", ["15.00", "0"]),
        # 100 % off is the whole invoice.
        (("12.34", "0.66"), [("percentage", "100", None)], "usd", "13.00", ["12.34", "0.66"]),
    ],
)
def test_invoice_coupons_golden(
    amounts: tuple[str, ...],
    discounts: list[tuple[str, str, str | None]],
    currency: str,
    total: str,
    per_line: list[str] | None,
) -> None:
    coupons = [Discount(f"d{i}", kind, D(v), p) for i, (kind, v, p) in enumerate(discounts)]
    outcome = apply(_lines(*amounts), coupons, currency)
    assert outcome.total == D(total)
    if per_line is not None:
        assert [outcome.invoice_discounts[f"l{i}"] for i in range(len(amounts))] == [
            D(x) for x in per_line
        ]


def test_line_coupons_come_first_then_the_invoice_coupon_on_what_is_left() -> None:
    lines = _lines("100.00", "50.00", prices=("price_a", "price_b"))
    outcome = apply(
        lines,
        [
            Discount("whole", "percentage", D("10")),  # listed first, applied after
            Discount("a25", "percentage", D("25"), "price_a"),
            Discount("b5", "fixed", D("5"), "price_b"),
        ],
        "usd",
    )
    # Lines: 100 − 25 = 75 and 50 − 5 = 45; then 10 % of 120 = 12, spread 7.50 / 4.50.
    assert outcome.line_discounts == {"l0": D("25.00"), "l1": D("5")}
    assert outcome.invoice_discounts == {"l0": D("7.50"), "l1": D("4.50")}
    assert outcome.total == D("42.00")
    assert [(a.discount_key, a.line_key, a.original, a.discounted) for a in outcome.applied] == [
        ("a25", "l0", D("100.00"), D("25.00")),
        ("b5", "l1", D("50.00"), D("5")),
        ("whole", None, D("120.00"), D("12.00")),
    ]
    totals = invoice_totals([line.amount for line in lines], "usd", discount=outcome.total)
    assert (totals.subtotal, totals.total_discount, totals.total) == (
        D("150.00"),
        D("42.00"),
        D("108.00"),
    )


_amounts = st.decimals(min_value=-50, max_value=10_000, places=2, allow_nan=False)
_coupon = st.one_of(
    st.builds(
        lambda v, p: ("fixed", v, p),
        st.decimals(min_value=D("0.01"), max_value=5000, places=2),
        st.sampled_from([None, "p0", "p1"]),
    ),
    st.builds(
        lambda v, p: ("percentage", v, p),
        st.decimals(min_value=D("0.001"), max_value=100, places=3),
        st.sampled_from([None, "p0", "p1"]),
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_amounts, min_size=1, max_size=5), st.lists(_coupon, max_size=4))
def test_discounts_add_up_and_never_pass_what_they_discount(
    amounts: list[Decimal], discounts: list[tuple[str, Decimal, str | None]]
) -> None:
    lines = [Line(f"l{i}", a, f"p{i % 2}") for i, a in enumerate(amounts)]
    coupons = [Discount(f"d{i}", kind, v, p) for i, (kind, v, p) in enumerate(discounts)]
    outcome = apply(lines, coupons, "usd")
    for line in lines:
        taken = outcome.line_discounts[line.key] + outcome.invoice_discounts[line.key]
        assert D(0) <= taken <= max(D(0), line.amount)
        assert taken == taken.quantize(D("0.01"))
    invoice_level = [a for a in outcome.applied if a.line_key is None]
    assert sum(outcome.invoice_discounts.values()) == sum(a.discounted for a in invoice_level)
    assert outcome.total <= sum(max(D(0), a) for a in amounts)
    # The invoice identity: total = subtotal − discounts, never negative.
    totals = invoice_totals(amounts, "usd", discount=outcome.total)
    assert totals.total == max(D(0), totals.subtotal - outcome.total)


@pytest.mark.parametrize(
    ("lines", "rates", "currency", "taxes"),
    [
        # Rounded per line: 0.05 and 0.07 at 5.5 % are 0 each (their sum would give 0.01).
        (("19.99", "0.05", "0.07"), ["5.5"], "usd", ["1.10"]),
        # Several rates tax the same base, no tax on tax.
        (("100",), ["20", "1.25"], "usd", ["20.00", "1.25"]),
        # Credit lines and fully discounted lines are not taxed.
        (("-10", "0", "10"), ["10"], "usd", ["1.00"]),
        (("999",), ["8.25"], "jpy", ["82"]),
        (("1.005",), ["10"], "kwd", ["0.101"]),
    ],
)
def test_exclusive_tax_golden(
    lines: tuple[str, ...], rates: list[str], currency: str, taxes: list[str]
) -> None:
    out = exclusive_tax(
        [D(a) for a in lines], [(f"r{i}", D(r)) for i, r in enumerate(rates)], currency
    )
    assert [r.tax for r in out] == [D(t) for t in taxes]
    assert all(r.taxable == sum(max(D(0), D(a)) for a in lines) for r in out)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_amounts, min_size=1, max_size=5),
    st.lists(_coupon, max_size=3),
    st.lists(st.decimals(min_value=0, max_value=100, places=3), max_size=3),
    st.decimals(min_value=0, max_value=20_000, places=2),
)
def test_the_invoice_identity_with_discounts_before_tax(
    amounts: list[Decimal],
    discounts: list[tuple[str, Decimal, str | None]],
    rates: list[Decimal],
    prepaid: Decimal,
) -> None:
    lines = [Line(f"l{i}", a, f"p{i % 2}") for i, a in enumerate(amounts)]
    coupons = [Discount(f"d{i}", kind, v, p) for i, (kind, v, p) in enumerate(discounts)]
    off = apply(lines, coupons, "usd")
    taxable = [
        line.amount - off.line_discounts[line.key] - off.invoice_discounts[line.key]
        for line in lines
    ]
    taxes = exclusive_tax(taxable, [(f"r{i}", r) for i, r in enumerate(rates)], "usd")
    tax = sum((t.tax for t in taxes), D(0))
    # Tax is on what the discounts left: never more than every rate on the charges.
    charges = sum((max(D(0), t) for t in taxable), D(0))
    assert (
        D(0)
        <= tax
        <= sum((charges * r / 100 for r in rates), D(0)) + D("0.005") * len(amounts) * len(rates)
    )
    totals = invoice_totals(amounts, "usd", discount=off.total, tax=tax, prepaid_credits=prepaid)
    assert totals.total == max(D(0), totals.subtotal - off.total + tax - prepaid)
    assert totals.total >= 0 and totals.amount_remaining == totals.total
