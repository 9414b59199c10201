"""The report question's rules, without a database: ranges, buckets, and the table's sort
and limit, as golden cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from meterline.analytics.report_catalog import REPORTS
from meterline.analytics.report_query import (
    FilterInput,
    ReportInput,
    SortInput,
    Sums,
    bucket,
    check,
    parse_range,
    table,
)
from meterline.kernel.errors import InvalidRequest

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "first", "end"),
    [
        ("last_1_days", date(2026, 12, 4), date(2026, 12, 5)),
        ("last_7_days", date(2026, 11, 28), date(2026, 12, 5)),
        ("2026-11-01..2026-12-01", date(2026, 11, 1), date(2026, 12, 1)),
        (" 2026-01-01..2027-02-05 ", date(2026, 1, 1), date(2027, 2, 5)),  # 400 days
    ],
)
def test_ranges(text: str, first: date, end: date) -> None:
    assert parse_range(text, TODAY, 400, "range") == (first, end)


@pytest.mark.parametrize(
    "text",
    [
        "last_0_days",
        "last_401_days",
        "2026-01-01..2027-02-06",
        "2026-02-01..2026-02-01",
        "2026-02-30..2026-03-01",
        "today",
        "0001-01-01..0001-01-02",
    ],
)
def test_bad_ranges_name_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_range(text, TODAY, 400, "definition.time.range")
    assert refused.value.field == "definition.time.range"


@pytest.mark.parametrize(
    ("day", "grain", "start"),
    [
        (date(2026, 12, 4), "day", date(2026, 12, 4)),
        (date(2026, 12, 4), "week", date(2026, 11, 30)),  # a Friday: its Monday
        (date(2026, 11, 30), "week", date(2026, 11, 30)),
        (date(2026, 12, 4), "month", date(2026, 12, 1)),
    ],
)
def test_buckets(day: date, grain: str, start: date) -> None:
    assert bucket(day, grain) == start


def test_a_breakdown_sorts_by_value_then_by_the_sort_asked_and_limits() -> None:
    spec = REPORTS["net_billing"]
    asked = ReportInput(span="last_7_days", shape="breakdown", dimensions=["revenue_source"])
    sums = Sums()
    for group, value in (
        (("usd", "fixed"), "10"),
        (("usd", "usage"), "2.5"),
        (("eur", "fixed"), "30"),
    ):
        sums.add(None, group, D(value))
    sums.add(None, ("usd", "usage"), D("0.50"))
    q = check(spec, asked, TODAY)
    assert q.dimensions == ("currency", "revenue_source")
    assert table(q, sums, "invoices").rows == [
        ["eur", "fixed", "30"],
        ["usd", "fixed", "10"],
        ["usd", "usage", "3"],
    ]
    by_currency = ReportInput(
        span="last_7_days",
        shape="breakdown",
        dimensions=["revenue_source"],
        sort=[SortInput("currency", "desc"), SortInput("net_billing", None)],
        limit=2,
    )
    rows = table(check(spec, by_currency, TODAY), sums, "invoices").rows
    assert rows == [["usd", "usage", "3"], ["usd", "fixed", "10"]]


def test_filters_and_currency_intersect() -> None:
    spec = REPORTS["net_billing"]
    asked = ReportInput(
        span="last_7_days",
        shape="scalar",
        currency="USD",
        filters=[FilterInput("currency", "in", ["usd", "EUR"])],
    )
    assert check(spec, asked, TODAY).filters == {"currency": frozenset({"usd"})}


@pytest.mark.parametrize(
    ("currency", "filters", "field"),
    [
        ("€€€", [], "currency"),
        (None, [FilterInput("currency", "eq", ["XTS"])], "filters[0].value"),
    ],
)
def test_a_currency_is_an_iso_code(
    currency: str | None, filters: list[FilterInput], field: str
) -> None:
    asked = ReportInput(span="last_7_days", shape="scalar", currency=currency, filters=filters)
    with pytest.raises(InvalidRequest) as refused:
        check(REPORTS["net_billing"], asked, TODAY)
    assert refused.value.field == field
