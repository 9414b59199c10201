"""Golden cases of the tax arithmetic (``taxes.compute.line_taxes``): exclusive, inclusive,
several rates, rounding per line, with exact amounts worked out in the comments; and the
invoice identity over random invoices (exempt and reverse-charge customers are charged no
tax at all: ``tests/discounts/test_inclusive_tax.py`` shows them through the SDK)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.discounts.compute import Discount, Line, apply
from meterline.invoicing.amounts import invoice_totals
from meterline.taxes.compute import Rate, line_taxes

D = Decimal


def _rates(*specs: str) -> list[Rate]:
    """``"20"`` is exclusive 20 %, ``"20i"`` inclusive."""
    return [Rate(f"r{i}", D(s.rstrip("i")), s.endswith("i")) for i, s in enumerate(specs)]


@pytest.mark.parametrize(
    ("lines", "rates", "currency", "taxes", "nets"),
    [
        # Exclusive: 20 % of 100 = 20.00 on top.
        (("100",), ("20",), "usd", ["20.00"], ["100"]),
        # Inclusive: 120 holds 20 % → 120 × 0.2 / 1.2 = 20.00, net 100.00.
        (("120",), ("20i",), "usd", ["20.00"], ["100.00"]),
        # Inclusive 19 % of 10.00: 10 × 0.19 / 1.19 = 1.596638… → 1.60, net 8.40.
        (("10.00",), ("19i",), "usd", ["1.60"], ["8.40"]),
        # Rounded per line: 0.05 three times at inclusive 20 % is 0.008333… → 0.01 each
        # (0.03), where the sum 0.15 would carve 0.025 → 0.03 too; at 10 %: 0.004545… → 0
        # each, where 0.15 would carve 0.01.
        (("0.05", "0.05", "0.05"), ("20i",), "usd", ["0.03"], ["0.04", "0.04", "0.04"]),
        (("0.05", "0.05", "0.05"), ("10i",), "usd", ["0"], ["0.05", "0.05", "0.05"]),
        # Two inclusive rates share one carve: 121.25 / 1.2125 = 100 → 20.00 and 1.25.
        (("121.25",), ("20i", "1.25i"), "usd", ["20.00", "1.25"], ["100.00"]),
        # Inclusive and exclusive on one line: the exclusive rate taxes the net only.
        # 110 holds 10 % → 10.00, net 100.00; then 5 % of 100.00 = 5.00 on top.
        (("110",), ("10i", "5"), "usd", ["10.00", "5.00"], ["100.00"]),
        # jpy has no minor units: 1000 at inclusive 10 % → 90.909… → 91, net 909.
        (("1000",), ("10i",), "jpy", ["91"], ["909"]),
        # kwd has three: 1.005 at inclusive 10 % → 0.0913636… → 0.091, net 0.914.
        (("1.005",), ("10i",), "kwd", ["0.091"], ["0.914"]),
        # A credit line and a line discounted to zero carry no tax, inclusive or not.
        (("-10", "0", "22"), ("10i",), "usd", ["2.00"], ["0", "0", "20.00"]),
        # Several exclusive rates each tax the same net: no tax on tax.
        # 5.5 %: 1.09945 → 1.10 and 0.00385 → 0; 1.25 %: 0.249875 → 0.25 and 0.000875 → 0.
        (("19.99", "0.07"), ("5.5", "1.25"), "usd", ["1.10", "0.25"], ["19.99", "0.07"]),
        # 0 % taxes nothing; 100 % inclusive is half the price: 4.995 → 5.00 (half away
        # from zero), net 4.99.
        (("9.99",), ("0i", "100i"), "usd", ["0", "5.00"], ["4.99"]),
    ],
)
def test_line_taxes_golden(
    lines: tuple[str, ...],
    rates: tuple[str, ...],
    currency: str,
    taxes: list[str],
    nets: list[str],
) -> None:
    taxed = line_taxes([D(a) for a in lines], _rates(*rates), currency)
    assert [r.tax for r in taxed.rates] == [D(t) for t in taxes]
    assert [line.net for line in taxed.lines] == [D(n) for n in nets]
    assert all(r.taxable == sum(D(n) for n in nets) for r in taxed.rates)
    inclusive = sum(
        (r.tax for r, s in zip(taxed.rates, rates, strict=True) if s.endswith("i")), D(0)
    )
    assert taxed.inclusive == inclusive


def test_inclusive_invoice_subtotal_is_net_and_the_total_is_the_price() -> None:
    # 120.00 and 59.99 at inclusive 20 %: 20.00 and 9.998333… → 10.00 carved out. The
    # subtotal is net (179.99 − 30.00 = 149.99); the total is what the prices said.
    amounts = [D("120.00"), D("59.99")]
    taxed = line_taxes(amounts, _rates("20i"), "usd")
    totals = invoice_totals(amounts, "usd", tax=taxed.total, inclusive_tax=taxed.inclusive)
    assert (totals.subtotal, totals.total_tax, totals.total) == (
        D("149.99"),
        D("30.00"),
        D("179.99"),
    )


_amounts = st.decimals(min_value=-50, max_value=10_000, places=2, allow_nan=False)
_coupon = st.one_of(
    st.builds(
        lambda v: ("fixed", v),
        st.decimals(min_value=D("0.01"), max_value=5000, places=2),
    ),
    st.builds(
        lambda v: ("percentage", v),
        st.decimals(min_value=D("0.001"), max_value=100, places=3),
    ),
)
_rate = st.builds(
    Rate,
    st.just("k"),
    st.decimals(min_value=0, max_value=100, places=3),
    st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(_amounts, min_size=1, max_size=5),
    st.lists(_coupon, max_size=3),
    st.lists(_rate, max_size=3),
    st.decimals(min_value=0, max_value=20_000, places=2),
    st.decimals(min_value=0, max_value=20_000, places=2),
    st.sampled_from(["usd", "jpy", "kwd"]),
)
def test_the_invoice_identity_with_inclusive_and_exclusive_tax(
    amounts: list[Decimal],
    discounts: list[tuple[str, Decimal]],
    rates: list[Rate],
    prepaid: Decimal,
    credit_note: Decimal,
    currency: str,
) -> None:
    """total = subtotal − discounts + tax − prepaid credits − credit notes, never negative,
    whatever mix of rates; inclusive tax never raises what the customer pays."""
    places = {"usd": 2, "jpy": 0, "kwd": 3}[currency]
    amounts = [a.quantize(D(1).scaleb(-places)) for a in amounts]
    rates = [Rate(f"r{i}", r.percent, r.inclusive) for i, r in enumerate(rates)]
    lines = [Line(f"l{i}", a, None) for i, a in enumerate(amounts)]
    off = apply(lines, [Discount(f"d{i}", k, v) for i, (k, v) in enumerate(discounts)], currency)
    taxable = [
        line.amount - off.line_discounts[line.key] - off.invoice_discounts[line.key]
        for line in lines
    ]
    taxed = line_taxes(taxable, rates, currency)
    for base, line in zip(taxable, taxed.lines, strict=True):
        assert D(0) <= line.net <= max(D(0), base)
    assert D(0) <= taxed.inclusive <= sum((max(D(0), t) for t in taxable), D(0))
    totals = invoice_totals(
        amounts,
        currency,
        discount=off.total,
        tax=taxed.total,
        inclusive_tax=taxed.inclusive,
        prepaid_credits=prepaid,
    )
    assert totals.subtotal == sum(amounts, D(0)) - taxed.inclusive
    # (amounts in the currency's minor units: a 0.99 coupon on a jpy invoice takes 1)
    discount, prepaid = totals.total_discount, totals.total_prepaid_credits_applied
    assert totals.total_tax == taxed.total
    assert totals.total == max(D(0), totals.subtotal - discount + taxed.total - prepaid)
    # A finalized credit note takes its amount off what is due (credit_notes.service),
    # never more than remains.
    credited = min(credit_note, totals.amount_remaining)
    after = totals.total - credited
    assert (
        after == max(D(0), totals.subtotal - discount + taxed.total - prepaid - credited)
        and after >= 0
    )
    if not [r for r in rates if not r.inclusive]:
        # Only inclusive rates: the customer pays what the prices said, less discounts.
        assert totals.total == max(D(0), sum(amounts, D(0)) - discount - prepaid)
