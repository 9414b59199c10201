"""The filter inventory, continued: every other list, search and lookup operation the SDK
sends parameters to (features, entitlements, raw events, a subscription's entitlements, a
customer's usage summary, an event or invoice looked up, wallets, usage queries, coupons,
tax rates and their associations, price units, exchange rates and groups).

As in test_filters.py each parameter is HONOURED (a case seeds rows it must exclude and keep,
or a check shows its effect) or REFUSED (400 naming it). Usage queries compute rather than
filter: their parameters are COMPUTED, each named with the test that shows its effect. A
served operation, or a parameter of one, that is in none of the tables fails
``test_every_sdk_operation_and_parameter_is_covered``; docs/wire-filters.md is generated from
the same tables (tests/api/flexprice/filter_docs.py).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flexprice.models import errors

from tests.api.flexprice import filter_docs, test_filters
from tests.api.flexprice.filter_world import World, seed_world
from tests.api.flexprice.test_filters import Case
from tests.conftest import Server

FEA = "query_feature"
ENT = "query_entitlement"
EVS = "list_raw_events"
SUE = "get_subscription_entitlements"
CUU = "get_customer_usage_summary"
CPN = "query_coupon"
CPA = "list_coupon_associations"
TXR = "get_tax_rates"
TXA = "list_tax_associations"
PUL = "list_price_units"
PUQ = "query_price_unit"
FXQ = "query_fx_rates"
GRQ = "query_group"
ADN = "query_addon"
URS = "post_usage_records_search"
LIS = "query_subscription_line_items"
SCH = "list_all_subscription_schedules"
CSS = "get_subscriptions_for_customer"
LAC = "list_activity"
LTK = "list_tasks"
LST = "list_scheduled_tasks"
LPY = "list_payments"
LRF = "list_refunds"
LPM = "list_customer_payment_methods"
GEM = "get_entity_integration_mappings"
ALG = "query_alert_log"
CSQ = "query_costsheet"
CSG = "get_costsheet"
LAV = "list_analytics_views"


def _items(result: Any) -> list[Any]:
    return list(result.items)


def _features(result: Any) -> list[Any]:
    return [f.feature for f in result.features]


# SDK method -> (how to call it, the listed rows of an answer: each has an ``id``).
OPERATIONS: dict[str, tuple[Callable[..., Any], Callable[[Any], list[Any]]]] = {
    FEA: (lambda fp, **kw: fp.features.query_feature(**kw), _items),
    ENT: (lambda fp, **kw: fp.entitlements.query_entitlement(**kw), _items),
    EVS: (lambda fp, **kw: fp.events.list_raw_events(**kw), lambda r: list(r.events)),
    SUE: (lambda fp, **kw: fp.subscriptions.get_subscription_entitlements(**kw), _features),
    CUU: (lambda fp, **kw: fp.customers.get_customer_usage_summary(**kw), _features),
    "get_event": (lambda fp, **kw: fp.events.get_event(**kw), lambda r: [r.event]),
    "get_invoice": (lambda fp, **kw: fp.invoices.get_invoice(**kw), lambda r: [r]),
    "get_invoice_pdf": (lambda fp, **kw: fp.invoices.get_invoice_pdf(**kw), lambda r: []),
    "get_customer_wallets": (lambda fp, **kw: fp.wallets.get_customer_wallets(**kw), list),
    "get_wallet_balance": (lambda fp, **kw: fp.wallets.get_wallet_balance(**kw), lambda r: [r]),
    "get_usage_analytics": (lambda fp, **kw: fp.events.get_usage_analytics(**kw), _items),
    "query_user": (lambda fp, **kw: fp.users.query_user(**kw), _items),
    "list_rbac_roles": (lambda fp, **kw: fp.rbac.list_rbac_roles(**kw), lambda r: r["items"]),
    CPN: (lambda fp, **kw: fp.coupons.query_coupon(**kw), _items),
    CPA: (lambda fp, **kw: fp.coupon_associations.list_coupon_associations(**kw), _items),
    TXR: (lambda fp, **kw: fp.tax_rates.get_tax_rates(**kw), _items),
    TXA: (lambda fp, **kw: fp.tax_associations.list_tax_associations(**kw), _items),
    PUL: (lambda fp, **kw: fp.price_units.list_price_units(**kw), _items),
    PUQ: (lambda fp, **kw: fp.price_units.query_price_unit(**kw), _items),
    FXQ: (lambda fp, **kw: fp.fx_rates.query_fx_rates(**kw), _items),
    GRQ: (lambda fp, **kw: fp.groups.query_group(**kw), _items),
    ADN: (lambda fp, **kw: fp.addons.query_addon(**kw), _items),
    URS: (lambda fp, **kw: fp.usage_records.post_usage_records_search(**kw), _items),
    LIS: (lambda fp, **kw: fp.subscriptions.query_subscription_line_items(**kw), _items),
    SCH: (
        lambda fp, **kw: fp.subscriptions.list_all_subscription_schedules(**kw),
        lambda r: list(r.schedules),
    ),
    CSS: (lambda fp, **kw: fp.customers.get_subscriptions_for_customer(**kw), _items),
    LAC: (lambda fp, **kw: fp.activity.list_activity(**kw), _items),
    LTK: (lambda fp, **kw: fp.tasks.list_tasks(**kw), _items),
    LST: (lambda fp, **kw: fp.scheduled_tasks.list_scheduled_tasks(**kw), _items),
    "get_task_result": (lambda fp, **kw: fp.tasks.get_task_result(**kw), lambda r: []),
    LPY: (lambda fp, **kw: fp.payments.list_payments(**kw), _items),
    LRF: (lambda fp, **kw: fp.refunds.list_refunds(**kw), _items),
    LPM: (lambda fp, **kw: fp.customers.list_customer_payment_methods(**kw), lambda r: []),
    GEM: (lambda fp, **kw: fp.integrations.get_entity_integration_mappings(**kw), _items),
    ALG: (lambda fp, **kw: fp.alerts.query_alert_log(**kw), _items),
    CSQ: (lambda fp, **kw: fp.costs.query_costsheet(**kw), _items),
    CSG: (lambda fp, **kw: fp.costs.get_costsheet(**kw), lambda r: [r.costsheet]),
    LAV: (lambda fp, **kw: fp.analytics.list_analytics_views(**kw), _items),
}

# What a call needs besides the parameter tested (a path parameter, the customer looked up).
BASE: dict[str, Callable[[World], dict[str, Any]]] = {
    SUE: lambda w: {"id": w.ids["sub_a"]},
    CUU: lambda w: {"customer_id": w.ids["cust_a"]},
    "get_event": lambda w: {"id": w.ids["ev_a"], "external_customer_id": w.ids["ext_a"]},
    "get_invoice": lambda w: {"id": w.ids["one_a"]},
    "get_invoice_pdf": lambda w: {"id": w.ids["one_a"]},
    "get_customer_wallets": lambda w: {"id": w.ids["cust_a"]},
    "get_wallet_balance": lambda w: {"id": w.ids["wallet_a"]},
    "get_usage_analytics": lambda w: {"external_customer_id": w.ids["ext_a"]},
    CSS: lambda w: {"external_id": w.ids["ext_c"]},
    # The customers' entries: the world's other writes are more than a page.
    LAC: lambda w: {"entity_type": "customer", "limit": 200},
    "get_task_result": lambda w: {"workflow_id": w.ids["task_a"]},
    LPM: lambda w: {"id": w.ids["cust_a"]},
    CSG: lambda w: {"id": w.ids["cost_a"]},
    GEM: lambda w: {"entity_type": "customer", "entity_id": w.ids["cust_a"]},
}

# Operations whose parameters are the input of a computation, not filters of a list.
NOT_SEARCHES = {
    "get_invoice_preview": "its body fields are in the field inventory (docs/wire-fields.md)",
    "get_detailed_cost_analytics": "its body fields are in the field inventory"
    " (docs/wire-fields.md)",
    "query_analytics": "its body fields are in the field inventory (docs/wire-fields.md)",
    "query_analytics_view": "its body fields are in the field inventory (docs/wire-fields.md)",
    "get_subscription_v2": "`expand` adds the plan and the customer and filters nothing"
    " (tests/subscriptions/test_seats.py; another expansion is a 400 naming it)",
}

REFUSED: dict[tuple[str, str], Any] = {
    (FEA, "expand"): "meters",
    (ENT, "expand"): "feature",
    (ENT, "has_grant_config"): True,
    (EVS, "iter_first_key"): "k",
    (EVS, "iter_last_key"): "k",
    ("get_invoice", "expand"): "customer",
    ("get_invoice", "expand_by_source"): True,
    ("get_invoice", "group_by"): ["feature"],
    ("get_invoice_pdf", "url"): True,
    ("get_invoice_pdf", "force_generate"): True,
    ("get_customer_wallets", "expand"): "customer",
    ("get_customer_wallets", "from_cache"): True,
    ("get_customer_wallets", "minus"): 1,
    ("get_wallet_balance", "expand"): "credits_available_breakdown",
    ("get_usage_analytics", "sources"): ["api"],
    ("get_usage_analytics", "property_filters"): {"region": ["eu"]},
    ("get_usage_analytics", "expand"): ["price"],
    ("get_usage_analytics", "include_children"): True,
    ("get_usage_analytics", "breakdown_bucket"): True,
    ("query_user", "expand"): "tenant",
    ("query_user", "order"): "asc",
    ("query_user", "sort"): [{"field": "created_at", "direction": "asc"}],
    ("query_user", "filters"): [
        {"field": "name", "operator": "eq", "data_type": "string", "value": {"string": "x"}}
    ],
    ("query_user", "start_time"): "2026-01-01T00:00:00Z",
    ("query_user", "end_time"): "2030-01-01T00:00:00Z",
    (CPN, "expand"): "coupon_associations",
    (TXR, "expand"): "tax_associations",
    (PUQ, "expand"): "prices",
    (FXQ, "expand"): "customer",
    (GRQ, "expand"): "entities",
    (ADN, "expand"): "prices",
    (URS, "expand"): "customer",
    (LIS, "addon_association_ids"): ["addon_assoc_1"],
    (LAC, "expand"): ["actor"],
    (LTK, "expand"): "scheduled_task",
    (LPY, "expand"): "destination",
    (ALG, "expand"): "customer",
    (CSQ, "environment_id"): "env_elsewhere",
    (CSQ, "tenant_id"): "tenant_elsewhere",
    (ALG, "filters"): [
        {"field": "id", "operator": "eq", "data_type": "string", "value": {"string": "x"}}
    ],
}

USAGE_TESTS = "tests/api/flexprice/test_usage.py"
SUB_TESTS = "tests/api/flexprice/test_subscriptions.py"
ANALYTICS_TESTS = "tests/api/flexprice/test_usage_analytics.py"
REVENUE_TESTS = "tests/api/flexprice/test_revenue_analytics.py"
USAGE_RECORD_TEST = (
    "tests/api/flexprice/test_usage_records.py::test_usage_records_and_their_filters"
)
# Parameters of a usage computation -> the test that shows their effect (checked to exist and
# to send the parameter by name).
COMPUTED: dict[tuple[str, str], str] = {
    **{
        ("get_usage_statistics", name): f"{USAGE_TESTS}::test_usage_with_the_sdk"
        for name in ("aggregation_type", "event_name", "property_name")
    },
    **{
        ("get_usage_by_meter", name): f"{USAGE_TESTS}::{test}"
        for name, test in {
            "meter_id": "test_usage_with_the_sdk",
            "external_customer_id": "test_usage_with_the_sdk",
            "customer_id": "test_events_before_their_customer_count_once_it_exists",
            "start_time": "test_usage_with_the_sdk",
            "end_time": "test_usage_with_the_sdk",
            "window_size": "test_windows_by_day_and_hour",
            "timezone": "test_windows_by_day_and_hour",
            "filters": "test_all_customers_and_filters",
        }.items()
    },
    ("get_subscription_usage", "subscription_id"): (
        f"{SUB_TESTS}::test_plan_prices_entitlements_subscription_usage_and_cancel"
    ),
    **{
        ("get_usage_analytics", name): f"{ANALYTICS_TESTS}::{test}"
        for name, test in {
            "external_customer_id": "test_usage_and_cost_per_feature_and_day",
            "start_time": "test_usage_and_cost_per_feature_and_day",
            "end_time": "test_usage_and_cost_per_feature_and_day",
            "window_size": "test_usage_and_cost_per_feature_and_day",
            "feature_ids": "test_usage_and_cost_per_feature_and_day",
            "group_by": "test_bad_analytics_requests_are_refused_by_name",
        }.items()
    },
    **{
        ("get_revenue_analytics", name): f"{REVENUE_TESTS}::test_billed_and_amortized_revenue"
        for name in (
            "start_time",
            "end_time",
            "granularity",
            "allocation_policy",
            "status",
            "group_by",
            "currency",
            "customer_ids",
            "subscription_ids",
            "price_ids",
            "meter_ids",
            "include_adjustments",
        )
    },
    # Usage records are computed from billed invoice lines (the filter world bills no period):
    # each parameter's effect is shown by the usage-record test.
    **{
        (URS, name): USAGE_RECORD_TEST
        for name in (
            "currency",
            "customer_external_id",
            "customer_id",
            "start_time",
            "end_time",
            "filters",
            "limit",
            "offset",
            "order",
            "period_start",
            "period_end",
            "plan_id",
            "sort",
            "status",
            "subscription_id",
            "synced",
        )
    },
}


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    yield from seed_world(server)


def _id(key: str) -> Callable[[World], Any]:
    return lambda w: w.ids[key]


def _list(key: str) -> Callable[[World], Any]:
    return lambda w: [w.ids[key]]


def _eq(op: str, name: str, value: Callable[[World], Any], keep: str, drop: str) -> Case:
    return Case(op, name, lambda w: {name: value(w)}, (keep,), (drop,))


def _between(w: World) -> str:
    return (w.before + timedelta(minutes=20)).isoformat()


BOTH_LOGS = ("alog_alarm", "alog_ok")

CASES: list[Case] = [
    # features
    _eq(FEA, "feature_ids", _list("f1"), "f1", "f2"),
    _eq(FEA, "lookup_key", _id("f2_key"), "f2", "f1"),
    _eq(FEA, "lookup_keys", _list("f1_key"), "f1", "f2"),
    Case(FEA, "meter_ids", lambda w: {"meter_ids": ["meter_none"]}, (), ("f1", "f2")),
    _eq(FEA, "name_contains", lambda w: "e f2", "f2", "f1"),
    Case(FEA, "status", lambda w: {"status": "archived"}, (), ("f1", "f2")),
    Case(FEA, "start_time", lambda w: {"start_time": w.after}, (), ("f1", "f2")),
    Case(FEA, "end_time", lambda w: {"end_time": w.before}, (), ("f1", "f2")),
    Case(
        FEA,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "id",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["f2"]},
                }
            ]
        },
        ("f2",),
        ("f1",),
    ),
    # entitlements
    _eq(ENT, "feature_ids", _list("f2"), "ent_f2", "ent_f1"),
    Case(ENT, "entity_ids", lambda w: {"entity_ids": [w.ids["plan_b"]]}, (), ("ent_f1",)),
    Case(ENT, "plan_ids", lambda w: {"plan_ids": [w.ids["plan_b"]]}, (), ("ent_f1", "ent_f2")),
    Case(ENT, "entity_type", lambda w: {"entity_type": "SUBSCRIPTION"}, (), ("ent_f1",)),
    Case(ENT, "feature_type", lambda w: {"feature_type": "metered"}, (), ("ent_f1", "ent_f2")),
    _eq(ENT, "is_enabled", lambda w: False, "ent_f2", "ent_f1"),
    Case(ENT, "status", lambda w: {"status": "archived"}, (), ("ent_f1", "ent_f2")),
    Case(ENT, "start_time", lambda w: {"start_time": w.after}, (), ("ent_f1", "ent_f2")),
    Case(ENT, "end_time", lambda w: {"end_time": w.before}, (), ("ent_f1", "ent_f2")),
    Case(
        ENT,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "feature_id",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["f1"]},
                }
            ]
        },
        ("ent_f1",),
        ("ent_f2",),
    ),
    # raw events
    _eq(EVS, "external_customer_id", _id("ext_a"), "ev_a", "ev_b"),
    _eq(EVS, "event_name", lambda w: "fw_b", "ev_b", "ev_a"),
    _eq(EVS, "event_id", _id("ev_a"), "ev_a", "ev_b"),
    _eq(EVS, "source", lambda w: "src_b", "ev_b", "ev_a"),
    _eq(EVS, "start_time", _between, "ev_b", "ev_a"),
    _eq(EVS, "end_time", _between, "ev_a", "ev_b"),
    _eq(EVS, "property_filters", lambda w: {"region": ["eu"]}, "ev_a", "ev_b"),
    # a subscription's entitlements, a customer's usage summary (subscription A has both)
    _eq(SUE, "feature_ids", _list("f1"), "f1", "f2"),
    _eq(CUU, "feature_ids", _list("f2"), "f2", "f1"),
    _eq(CUU, "feature_lookup_keys", _list("f1_key"), "f1", "f2"),
    Case(CUU, "subscription_ids", lambda w: {"subscription_ids": [w.ids["sub_b"]]}, (), ("f1",)),
    # coupons, their associations (B's has ended), tax rates and tax associations
    _eq(CPN, "coupon_ids", _list("coupon_a"), "coupon_a", "coupon_b"),
    _eq(CPN, "coupon_codes", _list("coupon_b_code"), "coupon_b", "coupon_a"),
    Case(CPN, "status", lambda w: {"status": "archived"}, (), ("coupon_a", "coupon_b")),
    Case(
        CPN,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "coupon_code",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["coupon_a_code"]},
                }
            ]
        },
        ("coupon_a",),
        ("coupon_b",),
    ),
    _eq(CPA, "subscription_ids", _list("coupon_sub_a"), "coupon_assoc_a", "coupon_assoc_b"),
    _eq(CPA, "coupon_ids", _list("coupon_b"), "coupon_assoc_b", "coupon_assoc_a"),
    _eq(CPA, "active_only", lambda w: True, "coupon_assoc_a", "coupon_assoc_b"),
    _eq(TXR, "taxrate_ids", _list("rate_a"), "rate_a", "rate_b"),
    _eq(TXR, "taxrate_codes", _list("rate_b_code"), "rate_b", "rate_a"),
    _eq(TXR, "scope", lambda w: "EXTERNAL", "rate_b", "rate_a"),
    Case(TXR, "status", lambda w: {"status": "archived"}, (), ("rate_a", "rate_b")),
    Case(
        TXR, "start_time", lambda w: {"start_time": w.after.isoformat()}, (), ("rate_a", "rate_b")
    ),
    Case(TXR, "end_time", lambda w: {"end_time": w.before.isoformat()}, (), ("rate_a", "rate_b")),
    Case(TXA, "entity_type", lambda w: {"entity_type": "customer"}, ("tax_a", "tax_b"), ()),
    Case(TXA, "entity_type", lambda w: {"entity_type": "tenant"}, (), ("tax_a", "tax_b")),
    _eq(TXA, "entity_id", _id("cust_a"), "tax_a", "tax_b"),
    _eq(TXA, "external_customer_id", _id("ext_b"), "tax_b", "tax_a"),
    _eq(TXA, "tax_rate_id", _id("rate_a"), "tax_a", "tax_b"),
    # price units, exchange rates and groups
    Case(PUL, "status", lambda w: {"status": "archived"}, (), ("unit_a", "unit_b")),
    _eq(PUQ, "price_unit_ids", _list("unit_b"), "unit_b", "unit_a"),
    Case(PUQ, "status", lambda w: {"status": "archived"}, (), ("unit_a", "unit_b")),
    Case(PUQ, "start_time", lambda w: {"start_time": w.after}, (), ("unit_a", "unit_b")),
    Case(PUQ, "end_time", lambda w: {"end_time": w.before}, (), ("unit_a", "unit_b")),
    Case(
        PUQ,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "code",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["unit_a_code"]},
                }
            ]
        },
        ("unit_a",),
        ("unit_b",),
    ),
    _eq(FXQ, "fx_rate_ids", _list("fx_a"), "fx_a", "fx_b"),
    _eq(FXQ, "from_currency", lambda w: "usd", "fx_a", "fx_b"),
    _eq(FXQ, "to_currency", lambda w: "jpy", "fx_b", "fx_a"),
    _eq(FXQ, "scope", lambda w: "customer", "fx_b", "fx_a"),
    _eq(FXQ, "scope_id", _id("cust_b"), "fx_b", "fx_a"),
    Case(FXQ, "status", lambda w: {"status": "archived"}, (), ("fx_a", "fx_b")),
    Case(FXQ, "start_time", lambda w: {"start_time": w.after}, (), ("fx_a", "fx_b")),
    Case(FXQ, "end_time", lambda w: {"end_time": w.before}, (), ("fx_a", "fx_b")),
    Case(
        FXQ,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "source",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": "market"},
                }
            ]
        },
        ("fx_b",),
        ("fx_a",),
    ),
    _eq(GRQ, "group_ids", _list("group_a"), "group_a", "group_b"),
    _eq(GRQ, "entity_type", lambda w: "feature", "group_b", "group_a"),
    _eq(GRQ, "lookup_key", _id("group_a_key"), "group_a", "group_b"),
    _eq(GRQ, "name", lambda w: "p b", "group_b", "group_a"),
    Case(GRQ, "status", lambda w: {"status": "archived"}, (), ("group_a", "group_b")),
    Case(GRQ, "start_time", lambda w: {"start_time": w.after}, (), ("group_a", "group_b")),
    Case(GRQ, "end_time", lambda w: {"end_time": w.before}, (), ("group_a", "group_b")),
    Case(
        GRQ,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "lookup_key",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["group_b_key"]},
                }
            ]
        },
        ("group_b",),
        ("group_a",),
    ),
    # add-ons (the deleted one is found by an archived search only)
    _eq(ADN, "addon_ids", _list("addon_a"), "addon_a", "addon_b"),
    _eq(ADN, "lookup_keys", _list("addon_b_key"), "addon_b", "addon_a"),
    Case(ADN, "status", lambda w: {"status": "archived"}, (), ("addon_a", "addon_b")),
    Case(
        ADN, "start_time", lambda w: {"start_time": w.after.isoformat()}, (), ("addon_a", "addon_b")
    ),
    Case(ADN, "end_time", lambda w: {"end_time": w.before.isoformat()}, (), ("addon_a", "addon_b")),
    Case(
        ADN,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "lookup_key",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["addon_a_key"]},
                }
            ]
        },
        ("addon_a",),
        ("addon_b",),
    ),
    # subscription line items (A's monthly, B's annual; C's pending change: old and staged)
    _eq(LIS, "subscription_line_item_ids", _list("li_a"), "li_a", "li_b"),
    _eq(LIS, "subscription_ids", _list("sub_a"), "li_a", "li_b"),
    _eq(LIS, "customer_ids", _list("cust_b"), "li_b", "li_a"),
    _eq(LIS, "price_ids", _list("price_b"), "li_b", "li_a"),
    _eq(LIS, "entity_ids", _list("plan_a"), "li_a", "li_b"),
    _eq(LIS, "billing_periods", lambda w: ["ANNUAL"], "li_b", "li_a"),
    Case(LIS, "currencies", lambda w: {"currencies": ["USD"]}, ("li_a", "li_b"), ()),
    Case(LIS, "currencies", lambda w: {"currencies": ["eur"]}, (), ("li_a", "li_b")),
    Case(LIS, "entity_type", lambda w: {"entity_type": "plan"}, ("li_a", "li_b"), ()),
    Case(LIS, "entity_type", lambda w: {"entity_type": "addon"}, (), ("li_a", "li_b")),
    Case(LIS, "meter_ids", lambda w: {"meter_ids": ["meter_none"]}, (), ("li_a", "li_b")),
    Case(LIS, "status", lambda w: {"status": "archived"}, (), ("li_a", "li_b")),
    Case(LIS, "start_time", lambda w: {"start_time": w.after}, (), ("li_a", "li_b")),
    Case(LIS, "end_time", lambda w: {"end_time": w.before}, (), ("li_a", "li_b")),
    _eq(LIS, "current_period_start", lambda w: w.after, "li_old", "li_staged"),
    Case(
        LIS,
        "current_period_start",
        lambda w: {"current_period_start": w.ids["boundary_1"]},
        ("li_staged",),
        ("li_old",),
    ),
    Case(
        LIS,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "id",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["li_b"]},
                }
            ]
        },
        ("li_b",),
        ("li_a",),
    ),
    # subscription schedules (C's first pending, its second cancelled)
    _eq(SCH, "subscription_id", _id("sched_sub_1"), "sched_1", "sched_2"),
    _eq(SCH, "subscription_ids", _list("sched_sub_2"), "sched_2", "sched_1"),
    _eq(SCH, "schedule_status", lambda w: ["cancelled"], "sched_2", "sched_1"),
    Case(SCH, "schedule_type", lambda w: {"schedule_type": ["cancellation"]}, (), ("sched_1",)),
    _eq(SCH, "pending_only", lambda w: True, "sched_1", "sched_2"),
    # the activity log (customers A and B were created), tasks and scheduled exports
    _eq(LAC, "entity_id", _id("cust_a"), "act_a", "act_b"),
    _eq(LAC, "customer_id", _id("cust_b"), "act_b", "act_a"),
    _eq(LAC, "request_id", _id("act_a_request"), "act_a", "act_b"),
    Case(LAC, "actions", lambda w: {"actions": ["created"]}, ("act_a", "act_b"), ()),
    Case(LAC, "actions", lambda w: {"actions": ["deleted"]}, (), ("act_a", "act_b")),
    Case(LAC, "actor_types", lambda w: {"actor_types": ["api_key"]}, (), ("act_a", "act_b")),
    Case(LAC, "actor_types", lambda w: {"actor_types": ["user"]}, ("act_a", "act_b"), ()),
    Case(LAC, "actor_id", lambda w: {"actor_id": "nobody"}, (), ("act_a", "act_b")),
    Case(LAC, "entity_type", lambda w: {"entity_type": "plan"}, (), ("act_a", "act_b")),
    Case(LAC, "start_time", lambda w: {"start_time": w.after}, (), ("act_a", "act_b")),
    Case(LAC, "end_time", lambda w: {"end_time": w.before}, (), ("act_a", "act_b")),
    _eq(LTK, "entity_type", lambda w: "CUSTOMERS", "task_a", "task_b"),
    _eq(LTK, "task_status", lambda w: "COMPLETED", "task_a", "task_b"),
    _eq(LTK, "scheduled_task_id", _id("sched_a"), "task_c", "task_a"),
    Case(LTK, "task_type", lambda w: {"task_type": "IMPORT"}, (), ("task_a", "task_b")),
    Case(LTK, "status", lambda w: {"status": "archived"}, (), ("task_a", "task_b")),
    Case(LTK, "created_by", lambda w: {"created_by": "nobody"}, (), ("task_a", "task_b")),
    Case(LTK, "created_by", lambda w: {"created_by": w.ids["task_creator"]}, ("task_a",), ()),
    Case(LTK, "start_time", lambda w: {"start_time": w.after.isoformat()}, (), ("task_a",)),
    Case(LTK, "end_time", lambda w: {"end_time": w.before.isoformat()}, (), ("task_a",)),
    _eq(LST, "entity_type", lambda w: "events", "sched_a", "sched_b"),
    _eq(LST, "interval", lambda w: "daily", "sched_b", "sched_a"),
    _eq(LST, "enabled", lambda w: False, "sched_b", "sched_a"),
    Case(LST, "connection_id", lambda w: {"connection_id": "other"}, (), ("sched_a", "sched_b")),
    # payments (A's paid, B's pending and paid) and refunds (A's back to source, B's failed)
    _eq(LPY, "payment_ids", _list("pay_a"), "pay_a", "pay_b"),
    _eq(LPY, "destination_id", _id("inv_pay_b"), "pay_b", "pay_a"),
    Case(LPY, "destination_type", lambda w: {"destination_type": "CUSTOMER"}, (), ("pay_a",)),
    Case(LPY, "payment_method_type", lambda w: {"payment_method_type": "CARD"}, (), ("pay_a",)),
    _eq(LPY, "payment_status", lambda w: "PENDING", "pay_b", "pay_b2"),
    Case(LPY, "payment_gateway", lambda w: {"payment_gateway": "stripe"}, (), ("pay_a",)),
    _eq(LPY, "currency", lambda w: "gbp", "pay_a", "pay_b"),
    Case(LPY, "gateway_payment_id", lambda w: {"gateway_payment_id": "pi_x"}, (), ("pay_a",)),
    _eq(LPY, "gateway_tracking_id", lambda w: "trk-a", "pay_a", "pay_b2"),
    Case(LPY, "status", lambda w: {"status": "deleted"}, (), ("pay_a", "pay_b")),
    Case(LPY, "start_time", lambda w: {"start_time": w.after.isoformat()}, (), ("pay_a",)),
    Case(LPY, "end_time", lambda w: {"end_time": w.before.isoformat()}, (), ("pay_a",)),
    _eq(LRF, "invoice_ids", _list("inv_pay_a"), "refund_a", "refund_b"),
    _eq(LRF, "payment_ids", _list("pay_a"), "refund_a", "refund_b"),
    _eq(LRF, "credit_note_ids", _list("cn_b"), "refund_b", "refund_a"),
    _eq(LRF, "refund_statuses", lambda w: ["FAILED"], "refund_b", "refund_a"),
    _eq(LRF, "refund_destinations", lambda w: ["WALLET"], "refund_b", "refund_a"),
    Case(LRF, "gateway", lambda w: {"gateway": "stripe"}, (), ("refund_a", "refund_b")),
    _eq(LRF, "only_settled", lambda w: True, "refund_a", "refund_b"),
    # the alert log: customer C's wallet crossed its threshold, then recovered
    _eq(ALG, "alert_status", lambda w: "in_alarm", "alog_alarm", "alog_ok"),
    _eq(ALG, "alert_status", lambda w: "ok", "alog_ok", "alog_alarm"),
    Case(ALG, "alert_type", lambda w: {"alert_type": "low_credit_balance"}, BOTH_LOGS, ()),
    Case(ALG, "alert_type", lambda w: {"alert_type": "subscription_spend"}, (), BOTH_LOGS),
    Case(ALG, "customer_id", lambda w: {"customer_id": w.ids["cust_alert"]}, BOTH_LOGS, ()),
    Case(ALG, "customer_id", lambda w: {"customer_id": w.ids["cust_a"]}, (), BOTH_LOGS),
    Case(ALG, "entity_id", lambda w: {"entity_id": w.ids["wallet_alert"]}, BOTH_LOGS, ()),
    Case(ALG, "entity_id", lambda w: {"entity_id": w.ids["wallet_a"]}, (), BOTH_LOGS),
    Case(ALG, "entity_type", lambda w: {"entity_type": "wallet"}, BOTH_LOGS, ()),
    Case(ALG, "entity_type", lambda w: {"entity_type": "subscription"}, (), BOTH_LOGS),
    Case(ALG, "status", lambda w: {"status": "archived"}, (), BOTH_LOGS),
    Case(ALG, "start_time", lambda w: {"start_time": w.after}, (), BOTH_LOGS),
    Case(ALG, "end_time", lambda w: {"end_time": w.before}, (), BOTH_LOGS),
    # cost sheets (the deleted one is found by an archived search only)
    _eq(CSQ, "costsheet_i_ds", _list("cost_a"), "cost_a", "cost_b"),
    _eq(CSQ, "lookup_key", _id("cost_b_key"), "cost_b", "cost_a"),
    _eq(CSQ, "name", lambda w: "t b", "cost_b", "cost_a"),
    Case(CSQ, "status", lambda w: {"status": "archived"}, (), ("cost_a", "cost_b")),
    Case(
        CSQ,
        "time_range_filter",
        lambda w: {"time_range_filter": {"start_time": w.after}},
        (),
        ("cost_a", "cost_b"),
    ),
    Case(
        CSQ,
        "time_range_filter",
        lambda w: {"time_range_filter": {"end_time": w.before}},
        (),
        ("cost_a", "cost_b"),
    ),
    Case(
        CSQ,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "lookup_key",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["cost_a_key"]},
                }
            ]
        },
        ("cost_a",),
        ("cost_b",),
    ),
]


def _ids(w: World, op: str, **kwargs: Any) -> list[str]:
    call, rows = OPERATIONS[op]
    base = BASE.get(op, lambda _: {})(w)
    return [row.id for row in rows(call(w.fp, **{**base, **kwargs}))]


def _customer_lookup_key(w: World) -> None:
    by_key = _ids(w, CUU, customer_id=None, customer_lookup_key=w.ids["ext_a"])
    assert sorted(by_key) == sorted([w.ids["f1"], w.ids["f2"]])
    assert _ids(w, CUU, customer_id=w.ids["cust_b"]) == []


def _event_lookup(w: World) -> None:
    assert _ids(w, "get_event") == [w.ids["ev_a"]]
    b = {"id": w.ids["ev_b"], "external_customer_id": w.ids["ext_b"]}
    assert _ids(w, "get_event", **b) == [w.ids["ev_b"]]
    assert _ids(w, "get_event", end_time=_between(w)) == [w.ids["ev_a"]]
    assert _ids(w, "get_event", **b, start_time=_between(w)) == [w.ids["ev_b"]]
    for excluded in (
        {"external_customer_id": w.ids["ext_b"]},
        {"start_time": _between(w)},
        {"end_time": w.before.isoformat()},
    ):
        with pytest.raises(errors.FlexpriceError) as missing:
            _ids(w, "get_event", **excluded)
        assert missing.value.status_code == 404, excluded


def _statistics(w: World, op: str = "get_usage_statistics", **kwargs: Any) -> Any:
    """Usage of event fw_a (customer A's one event, n = 5): counted, or by its meter."""
    if op == "get_usage_by_meter":
        return w.fp.events.get_usage_by_meter(meter_id=w.ids["meter_a"], **kwargs)
    body = {"event_name": "fw_a", "aggregation_type": "COUNT"}
    return w.fp.events.get_usage_statistics(**{**body, **kwargs})


def _statistics_filters(w: World) -> None:
    start = (w.before - timedelta(hours=1)).isoformat()
    assert _statistics(w, start_time=start).value == 1
    assert _statistics(w, start_time=start, external_customer_id=w.ids["ext_b"]).value == 0
    assert _statistics(w, start_time=start, customer_id=w.ids["cust_b"]).value == 0
    assert _statistics(w, start_time=start, customer_id=w.ids["cust_a"]).value == 1
    assert _statistics(w, start_time=_between(w)).value == 0
    assert _statistics(w, start_time=start, end_time=_between(w)).value == 1
    assert _statistics(w, start_time=start, end_time=w.before.isoformat()).value == 0
    assert _statistics(w, start_time=start, filters={"region": ["us"]}).value == 0
    assert _statistics(w, start_time=start, filters={"region": ["eu"]}).value == 1


def _statistics_groups(w: World) -> None:
    # The SDK's response model has no groups: read them from the wire.
    start = (w.before - timedelta(hours=1)).isoformat()
    body = {"event_name": "fw_a", "aggregation_type": "COUNT", "start_time": start}
    with w.tenant.client() as http:
        for grouping in ({"group_by_property": "region"}, {"group_by": ["region"]}):
            response = http.post("/v1/events/usage", json={**body, **grouping})
            assert response.status_code == 200, response.text
            groups = [(g["group"], g["value"]) for g in response.json().get("groups", [])]
            assert groups == [("eu", 1)], (grouping, response.text)


def _statistics_windows(w: World) -> None:
    start = (w.before - timedelta(hours=1)).isoformat()
    hourly = _statistics(w, start_time=start, window_size="HOUR")
    assert sum(r.value for r in hourly.results or []) == 1 and hourly.results


def _window_starts(result: Any) -> list[str]:
    return [str(r.window_size) for r in result.results or []]


def _statistics_timezone(w: World) -> None:
    start = (w.before - timedelta(days=2)).isoformat()
    utc = _window_starts(_statistics(w, start_time=start, window_size="DAY"))
    tokyo = _window_starts(
        _statistics(w, start_time=start, window_size="DAY", timezone="Asia/Tokyo")
    )
    assert utc and tokyo and utc != tokyo, (utc, tokyo)


def _statistics_billing_anchor(w: World, op: str = "get_usage_statistics") -> None:
    anchor = (w.before - timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (w.before - timedelta(days=40)).isoformat()
    plain = _window_starts(_statistics(w, op, start_time=start, window_size="MONTH"))
    anchored = _window_starts(
        _statistics(w, op, start_time=start, window_size="MONTH", billing_anchor=anchor)
    )
    assert plain != anchored and anchored, (plain, anchored)


def _statistics_multiplier(w: World) -> None:
    start = (w.before - timedelta(hours=1)).isoformat()
    summed = {"property_name": "n", "start_time": start}
    assert _statistics(w, **summed, aggregation_type="SUM").value == 5
    # As upstream, the multiplier scales the SUM_WITH_MULTIPLIER aggregation.
    scaled = _statistics(w, **summed, aggregation_type="SUM_WITH_MULTIPLIER", multiplier="2.5")
    assert scaled.value == 12.5


def _statistics_bucket_size(w: World, op: str = "get_usage_statistics") -> None:
    start = (w.before - timedelta(hours=1)).isoformat()
    plain = _statistics(w, op, start_time=start)
    bucketed = _statistics(w, op, start_time=start, bucket_size="HOUR")
    assert _window_starts(bucketed) and _window_starts(plain) != _window_starts(bucketed)


def _subscription_usage_window(w: World) -> None:
    start, end = w.before - timedelta(hours=2), w.before
    usage = w.fp.subscriptions.get_subscription_usage(
        subscription_id=w.ids["sub_a"], start_time=start, end_time=end
    )
    assert (usage.start_time, usage.end_time) == (start, end)


def _wallet_lookup(w: World) -> None:
    assert _ids(w, "get_customer_wallets") == [w.ids["wallet_a"]]
    by_key = _ids(w, "get_customer_wallets", id=None, lookup_key=w.ids["ext_a"])
    assert by_key == [w.ids["wallet_a"]]
    assert _ids(w, "get_customer_wallets", id=w.ids["cust_b"]) == [w.ids["wallet_b"]]


def _real_time_balance(w: World) -> None:
    # The seeded top-ups credited wallet A 5 + 20 + 3.
    [wallet] = w.fp.wallets.get_customer_wallets(id=w.ids["cust_a"], include_real_time_balance=True)
    assert wallet.id == w.ids["wallet_a"] and str(wallet.balance) == "28"


def _lifetime_usage(w: World) -> None:
    sub_id = w.ids["sub_a"]
    period = w.fp.subscriptions.get_subscription_usage(subscription_id=sub_id)
    lifetime = w.fp.subscriptions.get_subscription_usage(
        subscription_id=sub_id, lifetime_usage=True
    )
    # Lifetime usage runs from the start to now, not to the end of the current period.
    assert lifetime.end_time is not None and period.end_time is not None
    assert lifetime.end_time < period.end_time


def _events_paging(w: World) -> None:
    names = _ids(w, EVS)
    assert names == [w.ids["ev_b"], w.ids["ev_a"]], "newest first"
    assert _ids(w, EVS, page_size=1) == names[:1]
    assert _ids(w, EVS, offset=1) == names[1:]
    assert _ids(w, EVS, order="asc") == names[::-1]
    assert _ids(w, EVS, sort="event_name", order="asc") == [w.ids["ev_a"], w.ids["ev_b"]]


def _paging(op: str, order: bool = True, sort: bool = True) -> Callable[[World], None]:
    """limit and offset, and (where the SDK sends them) order and sort, each shown to change
    the answer."""

    def check(w: World) -> None:
        names = _ids(w, op)
        assert len(names) >= 2, f"{op} needs two rows to page"
        assert _ids(w, op, limit=1) == names[:1]
        assert _ids(w, op, offset=1) == names[1:]
        if order:
            assert _ids(w, op, order="asc") == names[::-1]
        if sort:
            ascending = _ids(w, op, sort=[{"field": "id", "direction": "asc"}], order="asc")
            assert ascending == sorted(names)

    return check


def _active_line_items(w: World) -> None:
    """By default only line items that have not ended; ``active_filter`` false adds them."""
    active = _ids(w, LIS, subscription_ids=[w.ids["sched_sub_2"]])
    everything = _ids(w, LIS, subscription_ids=[w.ids["sched_sub_2"]], active_filter=False)
    assert w.ids["li_ended"] not in active and w.ids["li_ended"] in everything
    assert set(active) < set(everything)


def _line_item_expansion(w: World) -> None:
    [plain] = w.fp.subscriptions.query_subscription_line_items(
        subscription_line_item_ids=[w.ids["li_a"]]
    ).items
    [expanded] = w.fp.subscriptions.query_subscription_line_items(
        subscription_line_item_ids=[w.ids["li_a"]], expand="price"
    ).items
    assert plain.price is None and expanded.price.id == w.ids["price_a"]
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.subscriptions.query_subscription_line_items(expand="meter")
    assert refused.value.status_code == 400 and "expand" in refused.value.body


def _customer_subscriptions_expansion(w: World) -> None:
    """A customer's subscriptions by external id; ``expand`` adds the plan and customer."""
    ext = w.ids["ext_c"]
    plain = w.fp.customers.get_subscriptions_for_customer(external_id=ext).items
    assert {s.id for s in plain} == {w.ids["sched_sub_1"], w.ids["sched_sub_2"]}
    assert all(s.plan is None and s.line_items for s in plain)
    expanded = w.fp.customers.get_subscriptions_for_customer(
        external_id=ext, expand="plan,customer"
    ).items
    assert {s.plan.id for s in expanded} == {w.ids["plan_a"], w.ids["plan_d"]}
    assert {s.customer.id for s in expanded} == {w.ids["cust_c"]}
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.customers.get_subscriptions_for_customer(external_id=ext, expand="entitlements")
    assert refused.value.status_code == 400 and "expand" in refused.value.body


def _coupon_expansion(w: World) -> None:
    """``expand=coupon`` renders each association's coupon; any other expansion is a 400."""
    a = {"subscription_ids": [w.ids["coupon_sub_a"]]}
    [plain] = w.fp.coupon_associations.list_coupon_associations(**a).items
    [expanded] = w.fp.coupon_associations.list_coupon_associations(**a, expand="coupon").items
    assert plain.coupon is None and expanded.coupon is not None
    assert expanded.coupon.coupon_code == w.ids["coupon_a_code"]
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.coupon_associations.list_coupon_associations(**a, expand="subscription")
    assert refused.value.status_code == 400 and "expand" in refused.value.body


def _payments_paging(w: World) -> None:
    names = _ids(w, LPY)
    assert len(names) >= 3
    assert _ids(w, LPY, limit=1) == names[:1]
    assert _ids(w, LPY, offset=1) == names[1:]
    assert _ids(w, LPY, order="asc") == names[::-1]
    assert _ids(w, LPY, sort="id", order="asc") == sorted(names)
    with pytest.raises(errors.FlexpriceError) as refused:
        _ids(w, LPY, sort="colour")
    assert refused.value.status_code == 400 and "sort" in refused.value.body


def _payment_methods(w: World) -> None:
    """No provider lists methods on a server without Stripe; asking for stripe there is a
    400 naming ``providers`` (tests/payments/test_stripe.py lists a card through it)."""
    assert w.fp.customers.list_customer_payment_methods(id=w.ids["cust_a"]).providers == []
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.customers.list_customer_payment_methods(id=w.ids["cust_a"], providers=["stripe"])
    assert refused.value.status_code == 400 and "providers" in refused.value.body


def _mappings(w: World) -> None:
    assert _ids(w, GEM) == [w.ids["map_a"]]
    assert _ids(w, GEM, entity_id=w.ids["cust_b"]) == [w.ids["map_b"]]
    assert _ids(w, GEM, entity_type="plan") == []
    with pytest.raises(errors.FlexpriceError) as refused:
        _ids(w, GEM, entity_type="galaxy")
    assert refused.value.status_code == 400 and "entity_type" in refused.value.body


_PAGING = ("limit", "offset", "order", "sort")


def _unit_listing(w: World) -> None:
    """The GET list of price units pages, orders and sorts (``sort`` names one field)."""
    names = _ids(w, PUL)
    assert names == [w.ids["unit_b"], w.ids["unit_a"]], "newest first"
    assert _ids(w, PUL, limit=1) == names[:1]
    assert _ids(w, PUL, offset=1) == names[1:]
    assert _ids(w, PUL, order="asc") == names[::-1]
    by_code = sorted(
        [(w.ids["unit_a_code"], w.ids["unit_a"]), (w.ids["unit_b_code"], w.ids["unit_b"])]
    )
    assert _ids(w, PUL, sort="code", order="asc") == [i for _, i in by_code]


# Fields that look one row up, shape the answer or page it, each with its own check.
USER_PARAMETERS = ("user_ids", "type", "roles", "status", "limit", "offset")


def _users(w: World) -> None:
    """The organization's users by id, type, role and status, paged (newest first)."""
    bot = w.fp.users.create_user(type_="service_account", name="bot", roles=["developer"])
    reader = w.fp.users.create_user(type_="service_account", name="ro", roles=["read_only"])
    ids = [bot.id, reader.id]
    assert [u.id for u in w.fp.users.query_user(user_ids=ids).items] == [reader.id, bot.id]
    assert [u.id for u in w.fp.users.query_user(user_ids=ids, roles=["developer"]).items] == [
        bot.id
    ]
    assert w.fp.users.query_user(user_ids=ids, type_="user").items == []
    page = w.fp.users.query_user(user_ids=ids, limit=1, offset=1)
    assert [u.id for u in page.items] == [bot.id] and page.pagination.total == 2
    w.fp.users.delete_service_account(id=bot.id)
    assert [u.id for u in w.fp.users.query_user(user_ids=ids, status="deleted").items] == [bot.id]


def _activity_pages(w: World) -> None:
    """``limit`` pages the log newest first; ``cursor`` (a page's ``next_cursor``) goes on."""
    first = w.fp.activity.list_activity(entity_type="customer", limit=1)
    assert len(first.items) == 1 and first.pagination.has_more
    second = w.fp.activity.list_activity(
        entity_type="customer", limit=1, cursor=first.pagination.next_cursor
    )
    assert len(second.items) == 1 and second.items[0].id < first.items[0].id


def _task_sort(w: World) -> None:
    names = _ids(w, LTK)
    assert _ids(w, LTK, sort="id", order="asc") == sorted(names)
    with pytest.raises(errors.FlexpriceError) as refused:
        _ids(w, LTK, sort="file_url")
    assert refused.value.status_code == 400 and "sort" in refused.value.body


def _task_result(w: World) -> None:
    for name in ("task_a", "task_b"):
        result = w.fp.tasks.get_task_result(workflow_id=w.ids[name])
        assert result.workflow_id == w.ids[name]
    assert "COMPLETED" in (w.fp.tasks.get_task_result(workflow_id=w.ids["task_a"]).message or "")


def _roles_by_user_type(w: World) -> None:
    everyone = {r["id"] for r in w.fp.rbac.list_rbac_roles()["items"]}
    machines = {r["id"] for r in w.fp.rbac.list_rbac_roles(user_type="service_account")["items"]}
    assert everyone - machines == {"owner"}


def _costsheet_pages(w: World) -> None:
    """``query_filter`` pages, orders, sorts, expands and selects the status; ``sort`` (a
    list) orders by any column."""
    names = _ids(w, CSQ)
    assert names[:2] == [w.ids["cost_b"], w.ids["cost_a"]], "newest first"
    assert _ids(w, CSQ, query_filter={"limit": 1}) == names[:1]
    assert _ids(w, CSQ, query_filter={"offset": 1}) == names[1:]
    assert _ids(w, CSQ, query_filter={"order": "asc"}) == names[::-1]
    by_id = _ids(w, CSQ, query_filter={"sort": "id", "order": "asc"})
    assert by_id == sorted(names)
    listed = _ids(w, CSQ, sort=[{"field": "name", "direction": "asc"}])
    assert listed == [w.ids["cost_a"], w.ids["cost_b"]]
    archived = _ids(w, CSQ, query_filter={"status": "archived"})
    assert archived == [w.ids["cost_gone"]]
    [plain] = w.fp.costs.query_costsheet(costsheet_i_ds=[w.ids["cost_a"]]).items
    expanded = w.fp.costs.query_costsheet(
        costsheet_i_ds=[w.ids["cost_a"]], query_filter={"expand": "prices"}
    ).items
    assert plain.prices is None and [p.id for p in expanded[0].prices] == [w.ids["cost_a_price"]]
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.costs.query_costsheet(query_filter={"expand": "meters"})
    assert refused.value.status_code == 400 and "expand" in refused.value.body


def _costsheet_expansion(w: World) -> None:
    """``expand=prices`` adds the cost sheet's prices; any other expansion is a 400."""
    assert w.fp.costs.get_costsheet(id=w.ids["cost_a"]).costsheet.prices is None
    expanded = w.fp.costs.get_costsheet(id=w.ids["cost_a"], expand="prices").costsheet
    assert [p.id for p in expanded.prices] == [w.ids["cost_a_price"]]
    with pytest.raises(errors.FlexpriceError) as refused:
        w.fp.costs.get_costsheet(id=w.ids["cost_a"], expand="meters")
    assert refused.value.status_code == 400 and "expand" in refused.value.body


def _view_families(w: World) -> None:
    """``family`` keeps the views of that family: Meterline's are all ``report`` views."""
    made = w.fp.analytics.create_analytics_view(
        name="families", definition={"metrics": ["net_billing"], "shape": "scalar"}
    )
    try:
        assert _ids(w, LAV) == [made.id]
        assert _ids(w, LAV, family="report") == [made.id]
        assert _ids(w, LAV, family="usage") == []
        with pytest.raises(errors.FlexpriceError) as refused:
            _ids(w, LAV, family="galaxy")
        assert refused.value.status_code == 400 and "family" in refused.value.body
    finally:
        w.fp.analytics.delete_analytics_view(id=made.id)


SHAPE_CHECKS: dict[tuple[str, str], Callable[[World], None]] = {
    (LAV, "family"): _view_families,
    (CUU, "customer_id"): _customer_lookup_key,
    (CUU, "customer_lookup_key"): _customer_lookup_key,
    **{
        ("get_event", name): _event_lookup
        for name in ("id", "external_customer_id", "start_time", "end_time")
    },
    **{
        ("get_usage_statistics", name): _statistics_filters
        for name in ("external_customer_id", "customer_id", "start_time", "end_time", "filters")
    },
    ("get_usage_statistics", "group_by"): _statistics_groups,
    ("get_usage_statistics", "group_by_property"): _statistics_groups,
    ("get_usage_statistics", "window_size"): _statistics_windows,
    ("get_usage_statistics", "timezone"): _statistics_timezone,
    ("get_usage_statistics", "billing_anchor"): _statistics_billing_anchor,
    ("get_usage_statistics", "multiplier"): _statistics_multiplier,
    ("get_usage_statistics", "bucket_size"): _statistics_bucket_size,
    ("get_usage_by_meter", "bucket_size"): lambda w: _statistics_bucket_size(
        w, "get_usage_by_meter"
    ),
    ("get_usage_by_meter", "billing_anchor"): lambda w: _statistics_billing_anchor(
        w, "get_usage_by_meter"
    ),
    ("get_subscription_usage", "start_time"): _subscription_usage_window,
    ("get_subscription_usage", "end_time"): _subscription_usage_window,
    ("get_customer_wallets", "id"): _wallet_lookup,
    ("get_customer_wallets", "lookup_key"): _wallet_lookup,
    ("get_customer_wallets", "include_real_time_balance"): _real_time_balance,
    ("get_subscription_usage", "lifetime_usage"): _lifetime_usage,
    **{(EVS, name): _events_paging for name in ("page_size", "offset", "order", "sort")},
    **{(op, name): _paging(op) for op in (FEA, ENT) for name in ("limit", "offset", "order")},
    **{(op, "sort"): _paging(op) for op in (FEA, ENT)},
    **{(CPN, name): _paging(CPN) for name in ("limit", "offset", "order", "sort")},
    **{(TXR, name): _paging(TXR, sort=False) for name in ("limit", "offset", "order")},
    **{(CPA, name): _paging(CPA, order=False, sort=False) for name in ("limit", "offset")},
    (CPA, "expand"): _coupon_expansion,
    **{(ADN, name): _paging(ADN) for name in ("limit", "offset", "order", "sort")},
    (LIS, "active_filter"): _active_line_items,
    (LIS, "expand"): _line_item_expansion,
    **{(LIS, name): _paging(LIS) for name in ("limit", "offset", "order", "sort")},
    **{(SCH, name): _paging(SCH, order=False, sort=False) for name in ("limit", "offset")},
    (CSS, "expand"): _customer_subscriptions_expansion,
    **{(ALG, name): _paging(ALG) for name in ("limit", "offset", "order", "sort")},
    **{("query_user", name): _users for name in USER_PARAMETERS},
    ("list_rbac_roles", "user_type"): _roles_by_user_type,
    **{(PUL, name): _unit_listing for name in ("limit", "offset", "order", "sort")},
    **{(op, name): _paging(op) for op in (PUQ, FXQ, GRQ) for name in _PAGING},
    **{(LAC, name): _activity_pages for name in ("limit", "cursor")},
    **{(LTK, name): _paging(LTK, sort=False) for name in ("limit", "offset", "order")},
    (LTK, "sort"): _task_sort,
    **{(LST, name): _paging(LST, order=False, sort=False) for name in ("limit", "offset")},
    ("get_task_result", "workflow_id"): _task_result,
    **{(LPY, name): _payments_paging for name in ("limit", "offset", "order", "sort")},
    **{(LRF, name): _paging(LRF, order=False, sort=False) for name in ("limit", "offset")},
    (LPM, "providers"): _payment_methods,
    (GEM, "entity_type"): _mappings,
    (GEM, "entity_id"): _mappings,
    **{(CSQ, name): _costsheet_pages for name in ("query_filter", "sort")},
    (CSG, "expand"): _costsheet_expansion,
}


def honoured_everywhere() -> set[tuple[str, str]]:
    """Every (operation, parameter) shown honoured, by this module and by test_filters.py."""
    mine = {(c.op, c.field) for c in CASES} | set(SHAPE_CHECKS) | set(COMPUTED)
    return mine | test_filters._honoured()


def _sdk_operations() -> dict[str, filter_docs.FilterOperation]:
    return {op.name: op for op in filter_docs.sdk_filter_operations()}


def test_every_sdk_operation_and_parameter_is_covered() -> None:
    sdk = _sdk_operations()
    tables = set(test_filters.OPERATIONS) | set(OPERATIONS) | set(NOT_SEARCHES)
    tables |= {op for op, _ in COMPUTED}
    assert {FEA, ENT, EVS} <= set(sdk), "the required searches are served"
    assert not set(sdk) - tables, f"served SDK operations in no table: {set(sdk) - tables}"
    assert not tables - set(sdk), f"tables name operations not served: {tables - set(sdk)}"
    honoured = honoured_everywhere()
    refused = set(test_filters.REFUSED) | set(REFUSED)
    both = honoured & refused
    assert both <= set(test_filters.SHAPE_CHECKS), f"both honoured and refused: {both}"
    unhandled = [
        (op.name, name)
        for op in sdk.values()
        if op.name not in NOT_SEARCHES
        for name in op.params
        if (op.name, name) not in honoured | refused
        and (op.name, name) not in test_filters.PATH_PARAMETERS
    ]
    assert not unhandled, f"SDK parameters neither tested-honoured nor refused: {unhandled}"
    stale = [key for key in honoured | refused if key[1] not in sdk[key[0]].params]
    assert not stale, f"tested parameters the SDK does not have: {stale}"


@pytest.mark.parametrize("key", sorted(COMPUTED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_computed_parameter_is_exercised_by_its_test(key: tuple[str, str]) -> None:
    path, _, name = COMPUTED[key].partition("::")
    root = Path(__file__).resolve().parents[3]
    tree = ast.parse((root / path).read_text())
    [test] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    source = ast.unparse(test)
    assert f"{key[1]}=" in source or f"'{key[1]}'" in source, f"{name} never sends {key[1]}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.op}.{c.field}")
def test_filter_keeps_and_excludes(world: World, case: Case) -> None:
    found = set(_ids(world, case.op, **case.kwargs(world)))
    keep = {world.ids[name] for name in case.keep}
    drop = {world.ids[name] for name in case.drop}
    assert keep <= found, f"{case.field} dropped rows it must keep"
    assert not drop & found, f"{case.field} kept rows it must exclude"
    assert keep | drop <= set(_ids(world, case.op)), "the seeded rows exist without the filter"


@pytest.mark.parametrize("key", sorted(SHAPE_CHECKS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_lookup_shaping_and_paging_fields(world: World, key: tuple[str, str]) -> None:
    SHAPE_CHECKS[key](world)


@pytest.mark.parametrize("key", sorted(REFUSED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_unsupported_parameter_is_refused_by_name(world: World, key: tuple[str, str]) -> None:
    op, name = key
    call, _rows = OPERATIONS[op]
    kwargs = {**BASE.get(op, lambda _: {})(world), name: REFUSED[key]}
    with pytest.raises(errors.FlexpriceError) as refused:
        call(world.fp, **kwargs)
    assert refused.value.status_code == 400, refused.value.body
    wire = "-" if name == "minus" else name
    assert wire in refused.value.body


def test_wire_filters_doc_is_current() -> None:
    expected = filter_docs.markdown()
    assert filter_docs.DOC.read_text() == expected, (
        "docs/wire-filters.md is stale: python -m tests.api.flexprice.filter_docs --markdown"
    )
