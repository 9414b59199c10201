"""POST /v1/usage-records/search through the SDK: one record per subscription and billed
period, the sums of its USAGE invoice lines, and every filter of the request filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from meterline.db import models as _all_tables  # noqa: F401 - every table, for the flush
from meterline.db.engine import Database
from meterline.invoicing import clock
from meterline.settings import Settings
from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Server, Tenant, new_tenant, unique

_NOW = datetime.now(UTC)
_M = _NOW.year * 12 + _NOW.month - 1 - 2
START = datetime(_M // 12, _M % 12 + 1, 1, tzinfo=UTC)  # the first of two months ago
NEXT = datetime((_M + 1) // 12, (_M + 1) % 12 + 1, 1, tzinfo=UTC)


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _bill(server: Server) -> None:
    if server.event_store == "clickhouse":
        pytest.skip("an in-process clock cannot share the server's in-process chdb store")
    db = Database.connect(Settings(database_url=server.database_url))
    try:
        clock.run_once(db, now=NEXT + timedelta(hours=2), grace=timedelta(hours=1))
    finally:
        db.dispose()


def _world(fp: Flexprice, http: httpx.Client, server: Server) -> dict[str, Any]:
    feature = tokens_feature(fp)
    out: dict[str, Any] = {}
    for name, per_token in (("a", "0.01"), ("b", "0.02")):
        plan = fp.plans.create_plan(name=f"Usage {name}", lookup_key=unique("usage"))
        plan_price(
            fp,
            plan.id,
            type_="USAGE",
            billing_model="FLAT_FEE",
            amount=per_token,
            meter_id=feature.meter_id,
            invoice_cadence="ARREAR",
        )
        customer = fp.customers.create_customer(external_id=unique(f"ur_{name}"), name=name)
        sub = fp.subscriptions.create_subscription(
            customer_id=customer.id,
            plan_id=plan.id,
            currency="usd",
            billing_period="MONTHLY",
            start_date=_z(START),
        )
        out[name] = {"plan": plan.id, "customer": customer, "sub": sub.id}
    events = [
        {
            "event_name": feature.meter.event_name,
            "external_customer_id": out[who]["customer"].external_id,
            "event_id": unique("ev"),
            "timestamp": _z(START + timedelta(days=day)),
            "properties": {"tokens": tokens},
        }
        for who, day, tokens in (("a", 2, 100), ("a", 9, 50), ("b", 4, 10))
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    _bill(server)
    return out


def _ids(result: Any) -> list[str]:
    return [r.subscription_id for r in result.items]


def test_usage_records_and_their_filters(tenant: Tenant, fp: Flexprice, http: httpx.Client) -> None:
    w = _world(fp, http, tenant.server)
    a, b = w["a"], w["b"]
    first = {"period_start": START, "period_end": NEXT}
    every = fp.usage_records.post_usage_records_search(**first)
    by_sub = {r.subscription_id: r for r in every.items}
    assert set(by_sub) == {a["sub"], b["sub"]}
    ra = by_sub[a["sub"]]
    assert (D(str(ra.quantity)), D(str(ra.amount))) == (D(150), D("1.5"))
    assert (ra.customer_id, ra.plan_id, ra.currency) == (a["customer"].id, a["plan"], "usd")
    assert ra.synced is False and ra.status == "published" and ra.id.startswith("usage_rec_")
    assert D(str(by_sub[b["sub"]].amount)) == D("0.2")
    # The id is stable from read to read.
    again = fp.usage_records.post_usage_records_search(subscription_id=a["sub"], **first)
    assert [r.id for r in again.items] == [ra.id]

    # Each filter filters.
    search = fp.usage_records.post_usage_records_search
    assert _ids(search(customer_id=b["customer"].id, **first)) == [b["sub"]]
    assert _ids(search(customer_external_id=a["customer"].external_id, **first)) == [a["sub"]]
    assert _ids(search(customer_external_id="nobody", **first)) == []
    assert _ids(search(plan_id=b["plan"], **first)) == [b["sub"]]
    assert _ids(search(currency="eur", **first)) == []
    assert _ids(search(currency="USD", subscription_id=a["sub"], **first)) == [a["sub"]]
    assert _ids(search(period_start=START, period_end=START + timedelta(days=1))) == []
    assert _ids(search(status="archived", **first)) == []
    assert _ids(search(synced=True, **first)) == []
    assert _ids(search(start_time=_NOW + timedelta(days=1), **first)) == []
    assert set(_ids(search(end_time=_NOW + timedelta(days=1), **first))) == {a["sub"], b["sub"]}
    only_b = [{"field": "subscription_id", "operator": "eq", "value": {"string": b["sub"]}}]
    assert _ids(search(filters=only_b, **first)) == [b["sub"]]
    asc = search(sort=[{"field": "subscription_id", "direction": "asc"}], **first)
    assert _ids(asc) == sorted([a["sub"], b["sub"]])
    desc = search(sort=[{"field": "subscription_id", "direction": "desc"}], **first)
    assert _ids(desc) == sorted([a["sub"], b["sub"]], reverse=True)
    # Without a sort, by period: the earliest first with order asc (the second period's
    # record has no usage but is billed all the same).
    periods = search(order="asc", subscription_id=a["sub"]).items
    assert [r.period_start for r in periods] == sorted(r.period_start for r in periods)
    page = search(
        limit=1, offset=1, sort=[{"field": "subscription_id", "direction": "asc"}], **first
    )
    assert _ids(page) == [max(a["sub"], b["sub"])] and page.pagination.total == 2

    # Another environment sees none of them.
    with new_tenant(tenant.server).client() as other:
        theirs = other.post("/v1/usage-records/search", json={"limit": 100})
    assert theirs.status_code == 200 and theirs.json()["items"] == []

    # What cannot be served is refused by name.
    for bad, field in (
        ({"expand": "customer"}, "expand"),
        ({"sort": [{"field": "amount", "direction": "asc"}]}, "sort"),
        ({"filters": [{"field": "amount", "operator": "gt", "value": {"number": 1}}]}, "filters"),
    ):
        with pytest.raises(errors.FlexpriceError) as refused:
            search(**bad, **first)
        assert refused.value.status_code == 400 and field in refused.value.body
