"""Every filter of every search Meterline serves filters, or is refused by name.

The table is taken from the official SDK's request models: for each served search operation,
every field of its request model must be either HONOURED (a case below seeds rows the filter
must exclude and rows it must keep, calls the SDK over real HTTP and requires exactly that) or
REFUSED (sent through the SDK, it answers 400 naming the field). A field the SDK gains that is
in neither table fails ``test_every_sdk_filter_is_honoured_or_refused``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flexprice import models
from flexprice.models import errors

from tests.api.flexprice.filter_world import World, seed_world
from tests.conftest import Server, unique

# The served search/list operations: SDK method -> (its request model, how to call it).
OPERATIONS: dict[str, tuple[type[Any], Callable[..., Any]]] = {
    "query_invoice": (models.InvoiceFilter, lambda fp, **kw: fp.invoices.query_invoice(**kw)),
    "query_subscription": (
        models.SubscriptionFilter,
        lambda fp, **kw: fp.subscriptions.query_subscription(**kw),
    ),
    "query_customer": (models.CustomerFilter, lambda fp, **kw: fp.customers.query_customer(**kw)),
    "query_plan": (models.PlanFilter, lambda fp, **kw: fp.plans.query_plan(**kw)),
    "query_price": (models.PriceFilter, lambda fp, **kw: fp.prices.query_price(**kw)),
    "query_wallet": (models.WalletFilter, lambda fp, **kw: fp.wallets.query_wallet(**kw)),
    "list_api_keys": (models.ListAPIKeysRequest, lambda fp, **kw: fp.secrets.list_api_keys(**kw)),
    "get_wallet_transactions": (
        models.GetWalletTransactionsRequest,
        lambda fp, **kw: fp.wallets.get_wallet_transactions(**kw),
    ),
    "query_alert_settings": (
        models.AlertSettingsFilter,
        lambda fp, **kw: fp.alert_settings.query_alert_settings(**kw),
    ),
    "query_wallet_transaction": (
        models.WalletTransactionFilter,
        lambda fp, **kw: fp.wallets.query_wallet_transaction(**kw),
    ),
}
# Path parameters name the resource listed; they are no filter.
PATH_PARAMETERS = {("get_wallet_transactions", "id_path_parameter")}

# Fields refused with a 400 until Meterline implements them, and a value to send.
REFUSED: dict[tuple[str, str], Any] = {
    ("query_invoice", "expand"): "customer",
    ("query_subscription", "expand"): "plan",
    ("query_subscription", "effective_date_for_update"): "2030-01-01T00:00:00Z",
    ("query_subscription", "with_coupon_associations"): True,
    ("query_customer", "expand"): "wallets",
    ("query_plan", "expand"): "credit_grants",
    ("query_price", "expand"): "meter",
    ("query_wallet", "expand"): "customer",
    ("get_wallet_transactions", "expand"): "customer",
    ("query_wallet_transaction", "expand"): "customer",
    ("query_alert_settings", "expand"): "entity",
    ("query_alert_settings", "filters"): [
        {"field": "entity_id", "operator": "eq", "data_type": "string", "value": {"string": "x"}}
    ],
    ("query_wallet_transaction", "filters"): [
        {"field": "reference_id", "operator": "eq", "data_type": "string", "value": {"string": "x"}}
    ],
}


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    yield from seed_world(server)


def _ids(result: Any) -> set[str]:
    return {item.id for item in result.items}


@dataclass(frozen=True)
class Case:
    """``op(**kwargs(world))`` keeps every row named in ``keep`` and none named in ``drop``."""

    op: str
    field: str
    kwargs: Callable[[World], dict[str, Any]]
    keep: tuple[str, ...]
    drop: tuple[str, ...]


def _eq(op: str, name: str, value: Callable[[World], Any], keep: str, drop: str) -> Case:
    return Case(op, name, lambda w: {name: value(w)}, (keep,), (drop,))


def _id(key: str) -> Callable[[World], str]:
    return lambda w: w.ids[key]


INV = "query_invoice"
SUB = "query_subscription"
CUS = "query_customer"
PLN = "query_plan"
PRC = "query_price"
WAL = "query_wallet"
TXS = "get_wallet_transactions"
QTX = "query_wallet_transaction"
ALS = "query_alert_settings"


def _tx(extra: Callable[[World], dict[str, Any]]) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"id_path_parameter": w.ids["wallet_a"], **extra(w)}


CASES: list[Case] = [
    # invoices
    _eq(INV, "customer_id", _id("cust_a"), "one_a", "one_b"),
    _eq(INV, "external_customer_id", _id("ext_a"), "one_a", "one_b"),
    Case(
        INV,
        "subscription_customer_id",
        lambda w: {"subscription_customer_id": [w.ids["cust_a"]]},
        ("sub_inv_a",),
        ("sub_inv_b", "one_a"),
    ),
    _eq(INV, "subscription_id", _id("sub_a"), "sub_inv_a", "sub_inv_b"),
    Case(INV, "invoice_ids", lambda w: {"invoice_ids": [w.ids["one_a"]]}, ("one_a",), ("one_b",)),
    Case(
        INV, "invoice_status", lambda w: {"invoice_status": ["VOIDED"]}, ("voided_b",), ("one_a",)
    ),
    Case(INV, "payment_status", lambda w: {"payment_status": ["PENDING"]}, ("one_a",), ()),
    Case(INV, "invoice_type", lambda w: {"invoice_type": "ONE_OFF"}, ("one_a",), ("sub_inv_a",)),
    Case(
        INV,
        "billing_reason",
        lambda w: {"billing_reason": "SUBSCRIPTION_CREATE"},
        ("sub_inv_a",),
        ("one_a",),
    ),
    Case(INV, "currency", lambda w: {"currency": "eur"}, ("one_b",), ("one_a",)),
    Case(
        INV,
        "amount_due_gt",
        lambda w: {"amount_due_gt": 30},
        ("one_a", "sub_inv_b"),
        ("one_b", "sub_inv_a"),
    ),
    Case(
        INV,
        "amount_remaining_gt",
        lambda w: {"amount_remaining_gt": 200},
        ("one_a",),
        ("one_b", "sub_inv_b"),
    ),
    Case(
        INV,
        "period_start_gte",
        lambda w: {"period_start_gte": w.after.isoformat()},
        (),
        ("sub_inv_a", "sub_inv_b"),
    ),
    Case(
        INV,
        "period_start_lte",
        lambda w: {"period_start_lte": w.after.isoformat()},
        ("sub_inv_a",),
        ("one_a",),
    ),
    Case(
        INV,
        "period_end_gte",
        lambda w: {"period_end_gte": (w.after + timedelta(days=40)).isoformat()},
        ("sub_inv_b",),
        ("sub_inv_a",),
    ),
    Case(
        INV,
        "period_end_lte",
        lambda w: {"period_end_lte": (w.after + timedelta(days=40)).isoformat()},
        ("sub_inv_a",),
        ("sub_inv_b",),
    ),
    Case(INV, "finalized_at_gte", lambda w: {"finalized_at_gte": w.before}, ("one_a",), ("one_b",)),
    Case(INV, "voided_at_gte", lambda w: {"voided_at_gte": w.before}, ("voided_b",), ("one_a",)),
    Case(INV, "start_time", lambda w: {"start_time": w.after}, (), ("one_a",)),
    Case(INV, "end_time", lambda w: {"end_time": w.before}, (), ("one_a",)),
    Case(INV, "status", lambda w: {"status": "archived"}, (), ("one_a",)),
    Case(
        INV,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "currency",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": "eur"},
                }
            ]
        },
        ("one_b",),
        ("one_a",),
    ),
    # subscriptions
    _eq(SUB, "customer_id", _id("cust_a"), "sub_a", "sub_b"),
    Case(
        SUB, "customer_ids", lambda w: {"customer_ids": [w.ids["cust_a"]]}, ("sub_a",), ("sub_b",)
    ),
    Case(
        SUB,
        "invoicing_customer_ids",
        lambda w: {"invoicing_customer_ids": [w.ids["cust_b"]]},
        ("sub_b",),
        ("sub_a",),
    ),
    _eq(SUB, "external_customer_id", _id("ext_a"), "sub_a", "sub_b"),
    _eq(SUB, "plan_id", _id("plan_b"), "sub_b", "sub_a"),
    Case(
        SUB,
        "subscription_ids",
        lambda w: {"subscription_ids": [w.ids["sub_b"]]},
        ("sub_b",),
        ("sub_a",),
    ),
    Case(
        SUB,
        "subscription_status",
        lambda w: {"subscription_status": ["cancelled"]},
        (),
        ("sub_a", "sub_b"),
    ),
    Case(SUB, "billing_period", lambda w: {"billing_period": ["ANNUAL"]}, ("sub_b",), ("sub_a",)),
    # Every Meterline subscription is recurring: nothing to exclude, everything kept.
    Case(
        SUB, "billing_cadence", lambda w: {"billing_cadence": ["RECURRING"]}, ("sub_a", "sub_b"), ()
    ),
    Case(
        SUB,
        "subscription_type",
        lambda w: {"subscription_type": ["parent"]},
        (),
        ("sub_a", "sub_b"),
    ),
    Case(
        SUB,
        "parent_subscription_ids",
        lambda w: {"parent_subscription_ids": [w.ids["sub_a"]]},
        (),
        ("sub_a", "sub_b"),
    ),
    Case(
        SUB,
        "active_at",
        lambda w: {"active_at": w.before - timedelta(days=1)},
        (),
        ("sub_a", "sub_b"),
    ),
    Case(
        SUB, "trial_end_due_lte", lambda w: {"trial_end_due_lte": w.after}, (), ("sub_a", "sub_b")
    ),
    Case(SUB, "start_time", lambda w: {"start_time": w.after}, (), ("sub_a",)),
    Case(SUB, "end_time", lambda w: {"end_time": w.before}, (), ("sub_a",)),
    Case(SUB, "status", lambda w: {"status": "archived"}, (), ("sub_a",)),
    Case(
        SUB,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "billing_period",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": "MONTHLY"},
                }
            ]
        },
        ("sub_a",),
        ("sub_b",),
    ),
    # customers
    Case(
        CUS, "customer_ids", lambda w: {"customer_ids": [w.ids["cust_a"]]}, ("cust_a",), ("cust_b",)
    ),
    _eq(CUS, "external_id", _id("ext_a"), "cust_a", "cust_b"),
    Case(
        CUS, "external_ids", lambda w: {"external_ids": [w.ids["ext_a"]]}, ("cust_a",), ("cust_b",)
    ),
    Case(CUS, "email", lambda w: {"email": "b@example.com"}, ("cust_b",), ("cust_a",)),
    Case(CUS, "metadata", lambda w: {"metadata": {"tier": "gold"}}, ("cust_a",), ("cust_b",)),
    Case(CUS, "start_time", lambda w: {"start_time": w.after}, (), ("cust_a",)),
    Case(CUS, "end_time", lambda w: {"end_time": w.before}, (), ("cust_a",)),
    Case(CUS, "status", lambda w: {"status": "archived"}, (), ("cust_a",)),
    Case(
        CUS,
        "filters",
        lambda w: {
            "filters": [
                {"field": "name", "operator": "eq", "data_type": "string", "value": {"string": "B"}}
            ]
        },
        ("cust_b",),
        ("cust_a",),
    ),
    # plans
    Case(PLN, "plan_ids", lambda w: {"plan_ids": [w.ids["plan_a"]]}, ("plan_a",), ("plan_b",)),
    Case(PLN, "metadata", lambda w: {"metadata": {"line": "two"}}, ("plan_b",), ("plan_a",)),
    Case(PLN, "start_time", lambda w: {"start_time": w.after}, (), ("plan_a",)),
    Case(PLN, "end_time", lambda w: {"end_time": w.before}, (), ("plan_a",)),
    Case(PLN, "status", lambda w: {"status": "archived"}, (), ("plan_a",)),
    Case(
        PLN,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "id",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": w.ids["plan_b"]},
                }
            ]
        },
        ("plan_b",),
        ("plan_a",),
    ),
    # prices
    Case(PRC, "price_ids", lambda w: {"price_ids": [w.ids["price_a"]]}, ("price_a",), ("price_b",)),
    Case(PRC, "plan_ids", lambda w: {"plan_ids": [w.ids["plan_b"]]}, ("price_b",), ("price_a",)),
    Case(
        PRC, "entity_ids", lambda w: {"entity_ids": [w.ids["plan_a"]]}, ("price_a",), ("price_b",)
    ),
    Case(PRC, "entity_type", lambda w: {"entity_type": "ADDON"}, (), ("price_a", "price_b")),
    Case(PRC, "meter_ids", lambda w: {"meter_ids": ["meter_none"]}, (), ("price_a",)),
    Case(
        PRC,
        "billing_periods",
        lambda w: {"billing_periods": ["ANNUAL"]},
        ("price_b",),
        ("price_a",),
    ),
    Case(
        PRC,
        "subscription_id",
        lambda w: {"subscription_id": w.ids["sub_a"]},
        (),
        ("price_a", "price_b"),
    ),
    Case(
        PRC,
        "parent_price_id",
        lambda w: {"parent_price_id": w.ids["price_a"]},
        (),
        ("price_a", "price_b"),
    ),
    Case(PRC, "start_date_lt", lambda w: {"start_date_lt": w.before.isoformat()}, (), ("price_a",)),
    Case(PRC, "updated_after", lambda w: {"updated_after": w.after.isoformat()}, (), ("price_a",)),
    Case(
        PRC,
        "allow_expired_prices",
        lambda w: {"allow_expired_prices": True},
        ("price_a", "price_b"),
        (),
    ),
    Case(PRC, "start_time", lambda w: {"start_time": w.after}, (), ("price_a",)),
    Case(PRC, "end_time", lambda w: {"end_time": w.before}, (), ("price_a",)),
    Case(PRC, "status", lambda w: {"status": "archived"}, (), ("price_a",)),
    Case(
        PRC,
        "filters",
        lambda w: {
            "filters": [
                {
                    "field": "billing_period",
                    "operator": "eq",
                    "data_type": "string",
                    "value": {"string": "MONTHLY"},
                }
            ]
        },
        ("price_a",),
        ("price_b",),
    ),
    # wallets
    Case(
        WAL,
        "wallet_ids",
        lambda w: {"wallet_ids": [w.ids["wallet_a"]]},
        ("wallet_a",),
        ("wallet_b",),
    ),
    Case(WAL, "status", lambda w: {"status": "closed"}, ("wallet_b",), ("wallet_a",)),
    Case(WAL, "alert_enabled", lambda w: {"alert_enabled": True}, ("wallet_a",), ("wallet_b",)),
    Case(WAL, "alert_enabled", lambda w: {"alert_enabled": False}, ("wallet_b",), ("wallet_a",)),
    # wallet transactions (all of wallet A)
    Case(TXS, "type", _tx(lambda w: {"type_": "debit"}), (), ("tx_5", "tx_20")),
    Case(
        TXS,
        "transaction_reason",
        _tx(lambda w: {"transaction_reason": "PURCHASED_CREDIT_DIRECT"}),
        ("tx_20",),
        ("tx_5",),
    ),
    Case(
        TXS, "transaction_status", _tx(lambda w: {"transaction_status": "pending"}), (), ("tx_5",)
    ),
    Case(TXS, "priority", _tx(lambda w: {"priority": 2}), ("tx_20",), ("tx_5",)),
    Case(
        TXS,
        "credits_available_gt",
        _tx(lambda w: {"credits_available_gt": 10}),
        ("tx_20",),
        ("tx_5", "tx_3"),
    ),
    Case(
        TXS,
        "expiry_date_after",
        _tx(lambda w: {"expiry_date_after": w.after.isoformat()}),
        ("tx_3",),
        ("tx_5",),
    ),
    Case(
        TXS,
        "expiry_date_before",
        _tx(lambda w: {"expiry_date_before": w.before.isoformat()}),
        (),
        ("tx_3",),
    ),
    Case(TXS, "reference_type", _tx(lambda w: {"reference_type": "INVOICE"}), (), ("tx_5",)),
    Case(TXS, "reference_id", _tx(lambda w: {"reference_id": "inv_none"}), (), ("tx_5",)),
    Case(TXS, "created_by", _tx(lambda w: {"created_by": "user_none"}), (), ("tx_5",)),
    Case(TXS, "start_time", _tx(lambda w: {"start_time": w.after.isoformat()}), (), ("tx_5",)),
    Case(TXS, "end_time", _tx(lambda w: {"end_time": w.before.isoformat()}), (), ("tx_5",)),
    Case(TXS, "status", _tx(lambda w: {"status": "archived"}), (), ("tx_5",)),
    Case(
        TXS,
        "id_query_parameter",
        _tx(lambda w: {"id_query_parameter": w.ids["wallet_b"]}),
        (),
        ("tx_5",),
    ),
]
# The environment-wide ledger search takes the same filters, its ``id`` naming the wallet.
CASES += [
    Case(
        QTX,
        case.field,
        lambda w, case=case: {
            "id": w.ids["wallet_a"],
            **{k: v for k, v in case.kwargs(w).items() if k != "id_path_parameter"},
        },
        case.keep,
        case.drop,
    )
    for case in CASES
    if case.op == TXS and case.field != "id_query_parameter"
]
CASES.append(Case(QTX, "id", lambda w: {"id": w.ids["wallet_b"]}, (), ("tx_5", "tx_20")))
# alert settings (A's enabled with a parent subscription, B's disabled)
CASES += [
    Case(ALS, "enabled", lambda w: {"enabled": True}, ("alert_a",), ("alert_b",)),
    _eq(ALS, "entity_id", _id("wallet_a"), "alert_a", "alert_b"),
    Case(
        ALS,
        "entity_ids",
        lambda w: {"entity_ids": [w.ids["wallet_b"]]},
        ("alert_b",),
        ("alert_a",),
    ),
    Case(ALS, "entity_type", lambda w: {"entity_type": "wallet"}, ("alert_a", "alert_b"), ()),
    Case(
        ALS,
        "parent_entity_id",
        lambda w: {"parent_entity_id": "subs_parent_a"},
        ("alert_a",),
        ("alert_b",),
    ),
    Case(
        ALS,
        "parent_entity_ids",
        lambda w: {"parent_entity_ids": ["subs_parent_a"]},
        ("alert_a",),
        ("alert_b",),
    ),
    Case(
        ALS,
        "parent_entity_type",
        lambda w: {"parent_entity_type": "subscription"},
        ("alert_a",),
        ("alert_b",),
    ),
    Case(ALS, "start_time", lambda w: {"start_time": w.after}, (), ("alert_a",)),
    Case(ALS, "end_time", lambda w: {"end_time": w.before}, (), ("alert_a",)),
    Case(ALS, "status", lambda w: {"status": "archived"}, (), ("alert_a",)),
]


def _pagination_checks(w: World, op: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """limit, offset, order and sort of a set search, each shown to change the answer."""
    call = OPERATIONS[op][1]
    base: dict[str, Any] = {}
    if op == TXS:
        base = {"id_path_parameter": w.ids["wallet_a"]}
    full = call(w.fp, **base)
    names = [item.id for item in full.items]
    assert len(names) >= 2, f"{op} needs two rows to page"

    def limit() -> None:
        assert [i.id for i in call(w.fp, **base, limit=1).items] == names[:1]

    def offset() -> None:
        assert [i.id for i in call(w.fp, **base, offset=1).items] == names[1:]

    def order() -> None:
        flipped = [i.id for i in call(w.fp, **base, order="asc").items]
        assert flipped == list(reversed(names)), (flipped, names)

    yield "limit", limit
    yield "offset", offset
    yield "order", order
    if "sort" in OPERATIONS[op][0].model_fields:

        def sort() -> None:
            field_type = OPERATIONS[op][0].model_fields["sort"].annotation
            by_id: Any = "id"
            if "SortCondition" in str(field_type):
                by_id = [{"field": "id", "direction": "asc"}]
            ascending = [i.id for i in call(w.fp, **base, sort=by_id, order="asc").items]
            assert ascending == sorted(names), (ascending, names)

        yield "sort", sort


def _skip_line_items(w: World) -> None:
    kept = w.fp.invoices.query_invoice(invoice_ids=[w.ids["sub_inv_a"]]).items[0]
    assert kept.line_items, "an opening invoice has a line"
    skipped = w.fp.invoices.query_invoice(invoice_ids=[w.ids["sub_inv_a"]], skip_line_items=True)
    assert not skipped.items[0].line_items


def _with_line_items(w: World) -> None:
    kept = w.fp.subscriptions.query_subscription(
        subscription_ids=[w.ids["sub_a"]], with_line_items=True
    )
    assert kept.items[0].line_items
    left = w.fp.subscriptions.query_subscription(
        subscription_ids=[w.ids["sub_a"]], with_line_items=False
    )
    assert not left.items[0].line_items


def _plan_expand(w: World) -> None:
    plain = w.fp.plans.query_plan(plan_ids=[w.ids["plan_a"]]).items[0]
    assert not plain.prices
    expanded = w.fp.plans.query_plan(plan_ids=[w.ids["plan_a"]], expand="prices").items[0]
    assert [p.id for p in expanded.prices or []] == [w.ids["price_a"]]


def _api_key_status(w: World) -> None:
    live = {k.id for k in w.fp.secrets.list_api_keys().items}
    created = w.fp.secrets.create_api_key(name="to-revoke", type_="private_key")
    w.fp.secrets.delete_api_key(id=created.secret.id)
    assert created.secret.id not in {k.id for k in w.fp.secrets.list_api_keys().items}
    archived = {k.id for k in w.fp.secrets.list_api_keys(status="archived").items}
    assert created.secret.id in archived and not archived & live


def _plan_lookup_key(w: World) -> None:
    plan = w.fp.plans.get_plan(id=w.ids["plan_a"])
    found = _ids(w.fp.plans.query_plan(lookup_key=plan.lookup_key))
    assert found == {w.ids["plan_a"]}


# Fields that shape the answer or look one row up, each with its own check.
SHAPE_CHECKS: dict[tuple[str, str], Callable[[World], None]] = {
    (INV, "skip_line_items"): _skip_line_items,
    (SUB, "with_line_items"): _with_line_items,
    (PLN, "expand"): _plan_expand,
    (PLN, "lookup_key"): _plan_lookup_key,
    ("list_api_keys", "status"): _api_key_status,
}
PAGED = {"limit", "offset", "order", "sort"}
PAGED_OPS = (INV, SUB, CUS, PLN, PRC, WAL, TXS, QTX, ALS, "list_api_keys")


def _honoured() -> set[tuple[str, str]]:
    honoured = {(c.op, c.field) for c in CASES} | set(SHAPE_CHECKS)
    for op in PAGED_OPS:
        fields = OPERATIONS[op][0].model_fields
        honoured |= {(op, name) for name in PAGED if name in fields}
    return honoured


def test_every_sdk_filter_is_honoured_or_refused() -> None:
    honoured = _honoured()
    # Only a field honoured for some values and refused for others (plan expand) is both.
    both = honoured & set(REFUSED)
    assert both <= set(SHAPE_CHECKS), f"filters both honoured and refused: {both}"
    unhandled = []
    for op, (model, _call) in OPERATIONS.items():
        for name in model.model_fields:
            key = (op, name)
            if key not in honoured and key not in REFUSED and key not in PATH_PARAMETERS:
                unhandled.append(key)
    assert not unhandled, f"SDK filters neither tested-honoured nor refused: {unhandled}"
    stale = [
        key for key in honoured | set(REFUSED) if key[1] not in OPERATIONS[key[0]][0].model_fields
    ]
    assert not stale, f"tested filters the SDK does not have: {stale}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.op}.{c.field}")
def test_filter_keeps_and_excludes(world: World, case: Case) -> None:
    call = OPERATIONS[case.op][1]
    found = _ids(call(world.fp, limit=1000, **case.kwargs(world)))
    keep = {world.ids[name] for name in case.keep}
    drop = {world.ids[name] for name in case.drop}
    assert keep <= found, f"{case.field} dropped rows it must keep"
    assert not drop & found, f"{case.field} kept rows it must exclude"
    path = {k: v for k, v in case.kwargs(world).items() if k == "id_path_parameter"}
    unfiltered = _ids(call(world.fp, limit=1000, **path))
    assert keep | drop <= unfiltered, "the seeded rows exist without the filter"


@pytest.mark.parametrize("key", sorted(SHAPE_CHECKS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_shaping_and_lookup_fields(world: World, key: tuple[str, str]) -> None:
    SHAPE_CHECKS[key](world)


@pytest.mark.parametrize("op", PAGED_OPS)
def test_paging_fields(world: World, op: str) -> None:
    if op == "list_api_keys":
        for _ in range(2):
            world.fp.secrets.create_api_key(name=unique("k"), type_="private_key")
    for name, check in _pagination_checks(world, op):
        if name in OPERATIONS[op][0].model_fields:
            check()


@pytest.mark.parametrize("key", sorted(REFUSED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_unsupported_filter_is_refused_by_name(world: World, key: tuple[str, str]) -> None:
    op, name = key
    kwargs: dict[str, Any] = {name: REFUSED[key]}
    if op == TXS:
        kwargs["id_path_parameter"] = world.ids["wallet_a"]
    with pytest.raises(errors.FlexpriceError) as refused:
        OPERATIONS[op][1](world.fp, **kwargs)
    assert refused.value.status_code == 400, refused.value.body
    assert name in refused.value.body
