"""Analytics reports through the SDK: the catalog, a report run in each shape with its
filters, sort and limit, saved views (create, get, list, replace, run, delete) and the
ad-hoc query, and the refusals, each naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flexprice import Flexprice
from flexprice.models import errors

from tests.api.flexprice.test_revenue_analytics import _world


def _refused(call: Any, status: int, field: str) -> None:
    with pytest.raises(errors.FlexpriceError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.body
    assert field in refused.value.body, refused.value.body


def _rows(result: Any) -> list[list[str]]:
    return [list(r) for r in result.rows or []]


def _columns(result: Any) -> list[tuple[str | None, str | None]]:
    return [(c.name, c.role) for c in result.columns]


def test_the_catalog_lists_what_meterline_can_answer(fp: Flexprice) -> None:
    items = {e.key: e for e in fp.analytics.list_analytics_reports().items or []}
    assert set(items) == {"net_billing", "net_billing_issued", "gross_billing", "mrr"}
    net = items["net_billing"]
    assert (net.category, net.kind, net.value_type, net.default_shape) == (
        "billing",
        "flow",
        "money",
        "timeseries",
    )
    assert net.shapes == ["timeseries", "breakdown", "scalar"] and net.max_range_days == 400
    assert {d.key for d in net.dimensions or []} >= {"currency", "customer_id", "revenue_source"}
    assert items["net_billing_issued"].variant_of == "net_billing"
    assert items["mrr"].kind == "snapshot" and items["mrr"].grains == []
    assert net.supports_compare is False


def test_reports_read_the_revenue_facts(fp: Flexprice) -> None:
    customer, sub, one_off, _fee = _world(fp)  # 10 usd fixed + 25.50 one-off, drafts, today
    today = datetime.now(UTC).date()
    run = fp.analytics.run_analytics_report
    total = run(key="net_billing", range="last_1_days", shape="scalar")
    assert _columns(total) == [("currency", "dimension"), ("net_billing", "metric")]
    assert _rows(total) == [["usd", "35.5"]]
    assert total.meta.from_ == f"{today.isoformat()}T00:00:00Z"
    assert total.meta.to == f"{(today + timedelta(days=1)).isoformat()}T00:00:00Z"
    # A breakdown runs largest first by default; a sort and a limit change that.
    by_source = run(
        key="net_billing", range="last_7_days", shape="breakdown", dimensions=["revenue_source"]
    )
    assert _rows(by_source) == [["usd", "one_off", "25.5"], ["usd", "fixed", "10"]]
    smallest = run(
        key="net_billing",
        range="last_7_days",
        shape="breakdown",
        dimensions=["revenue_source"],
        sort=[{"field": "net_billing", "dir": "asc"}],
        limit=1,
    )
    assert _rows(smallest) == [["usd", "fixed", "10"]]
    # A time series by month: one bucket, labelled by the month's first day.
    month = today.replace(day=1).isoformat()
    series = run(
        key="gross_billing", range="last_1_days", shape="timeseries", grain="month", currency="usd"
    )
    assert _columns(series)[0] == ("period", "dimension")
    assert series.columns[-1].currency == "usd"
    assert _rows(series) == [[f"{month}T00:00:00Z", "usd", "35.5"]]
    # Filters keep and exclude.
    only_sub = run(
        key="net_billing",
        range="last_1_days",
        shape="scalar",
        filters=[{"field": "subscription_id", "op": "eq", "value": [sub.id]}],
    )
    assert _rows(only_sub) == [["usd", "10"]]
    mine = [{"field": "customer_id", "op": "in", "value": [customer.id, "cust_other"]}]
    assert _rows(run(key="net_billing", range="last_1_days", shape="scalar", filters=mine)) == [
        ["usd", "35.5"]
    ]
    elsewhere = [{"field": "customer_id", "op": "in", "value": ["cust_other"]}]
    assert not _rows(run(key="net_billing", range="last_1_days", shape="scalar", filters=elsewhere))
    assert not _rows(run(key="net_billing", range="last_1_days", shape="scalar", currency="eur"))
    one_off_only = [{"field": "revenue_source", "op": "eq", "value": ["one_off"]}]
    assert _rows(
        run(key="net_billing", range="last_1_days", shape="scalar", filters=one_off_only)
    ) == [["usd", "25.5"]]
    # Issued: finalized invoices only; a range before today holds nothing.
    assert not _rows(run(key="net_billing_issued", range="last_1_days", shape="scalar"))
    fp.invoices.finalize_invoice(id=one_off.id)
    assert _rows(run(key="net_billing_issued", range="last_1_days", shape="scalar")) == [
        ["usd", "25.5"]
    ]
    before = f"{(today - timedelta(days=9)).isoformat()}..{today.isoformat()}"
    assert not _rows(run(key="net_billing", range=before, shape="scalar"))
    # MRR: the live monthly fee.
    assert _rows(run(key="mrr", range="last_1_days", shape="scalar")) == [["usd", "10"]]


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"key": "no_such_report"}, 404, "no_such_report"),
        ({"filters": [{"field": "plan_id", "op": "eq", "value": ["p"]}]}, 400, "filters[0].field"),
        (
            {"filters": [{"field": "customer_id", "op": "eq", "value": ["a", "b"]}]},
            400,
            "filters[0].value",
        ),
        ({"grain": "day"}, 400, "grain"),
        ({"range": "last_401_days"}, 400, "range"),
        ({"range": "2026-01-01..2025-01-01"}, 400, "range"),
        ({"range": "yesterday"}, 400, "range"),
        ({"compare": "previous_period"}, 400, "compare"),
        ({"shape": "breakdown"}, 400, "dimensions"),
        ({"dimensions": ["customer_id"]}, 400, "dimensions"),
        ({"sort": [{"field": "amount"}]}, 400, "sort[0].field"),
        ({"key": "mrr", "shape": "timeseries"}, 400, "shape"),
        ({"key": "mrr", "range": "2026-01-01..2026-02-01"}, 400, "range"),
    ],
)
def test_a_bad_report_question_is_refused_by_name(
    fp: Flexprice, kwargs: dict[str, Any], status: int, field: str
) -> None:
    call = {"key": "net_billing", "range": "last_7_days", "shape": "scalar", **kwargs}
    _refused(lambda: fp.analytics.run_analytics_report(**call), status, field)


DEFINITION = {
    "metrics": ["net_billing"],
    "shape": "breakdown",
    "dimensions": ["revenue_source"],
    "time": {"range": "last_30_days"},
    "display": "table",
}


def test_saved_views_are_stored_listed_replaced_run_and_deleted(fp: Flexprice) -> None:
    _world(fp)
    a = fp.analytics
    made = a.create_analytics_view(name="By source", definition=DEFINITION)
    assert made.id.startswith("view_") and made.version == 1 and made.name == "By source"
    assert made.definition.metrics == ["net_billing"] and made.definition.family == "report"
    assert made.definition.display == "table" and made.definition.time.range == "last_30_days"
    assert a.get_analytics_view(id=made.id).definition == made.definition
    assert [v.id for v in a.list_analytics_views().items] == [made.id]
    assert [v.id for v in a.list_analytics_views(family="report").items] == [made.id]
    assert a.list_analytics_views(family="usage").items == []
    expected = [["usd", "one_off", "25.5"], ["usd", "fixed", "10"]]
    assert _rows(a.query_analytics_view(id=made.id)) == expected
    # The ad-hoc query runs the same definition without saving it.
    assert _rows(a.query_analytics(definition=DEFINITION)) == expected
    replaced = a.update_analytics_view(
        id=made.id,
        name="Total",
        definition={
            "metrics": ["net_billing"],
            "shape": "scalar",
            "time": {"range": "last_1_days"},
        },
    )
    assert (replaced.name, replaced.version, replaced.definition.shape) == ("Total", 2, "scalar")
    assert _rows(a.query_analytics_view(id=made.id)) == [["usd", "35.5"]]
    a.delete_analytics_view(id=made.id)
    _refused(lambda: a.get_analytics_view(id=made.id), 404, made.id)
    assert a.list_analytics_views().items == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metrics": ["bogus"]}, "definition.metrics[0]"),
        ({"metrics": ["net_billing", "mrr"]}, "definition.metrics"),
        ({"family": "usage"}, "definition.family"),
        ({"compare": "previous_year"}, "definition.compare"),
        ({"variables": [{"type": "string", "name": "x"}]}, "definition.variables"),
        (
            {"filters": [{"field": "customer_id", "op": "contains", "value": ["c"]}]},
            "definition.filters[0].op",
        ),
        (
            {"filters": [{"field": "customer_id", "value": ["c"], "optional": True}]},
            "definition.filters[0].optional",
        ),
        ({"time": {"range": "last_0_days"}}, "definition.time.range"),
        ({"time": {"grain": "week"}}, "definition.time.grain"),
    ],
)
def test_a_bad_view_definition_is_refused_by_name(
    fp: Flexprice, change: dict[str, Any], field: str
) -> None:
    definition = {**DEFINITION, **change}
    _refused(
        lambda: fp.analytics.create_analytics_view(name="v", definition=definition), 400, field
    )
    _refused(lambda: fp.analytics.query_analytics(definition=definition), 400, field)


def test_views_take_no_variables_and_families_are_checked(fp: Flexprice) -> None:
    made = fp.analytics.create_analytics_view(name="v", definition=DEFINITION)
    _refused(
        lambda: fp.analytics.query_analytics_view(id=made.id, variables={"x": ["1"]}),
        400,
        "variables",
    )
    _refused(lambda: fp.analytics.list_analytics_views(family="bogus"), 400, "family")
    _refused(lambda: fp.analytics.query_analytics_view(id="view_missing"), 404, "view_missing")
