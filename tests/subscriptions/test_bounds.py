"""Subscription bounds (start date, period count) and an immediate cancellation made after
a period ended but before the clock closed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from meterline.db import models as _all_tables  # noqa: F401 - every table, for the flush
from meterline.db.engine import Database
from meterline.invoicing import clock
from meterline.settings import Settings
from tests.conftest import Tenant, unique
from tests.invoicing.test_clock import plan_with_fee, subscribe_at

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _body(http: httpx.Client, plan_id: str, **extra: Any) -> dict[str, Any]:
    customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()
    return {
        "customer_id": customer["id"],
        "plan_id": plan_id,
        "currency": "usd",
        "billing_period": "MONTHLY",
        **extra,
    }


def _names(body: dict[str, Any], field: str) -> bool:
    """A 400 names its field: ``{"field": f}`` for a rule of the service, ``{f: message}``
    for one of the wire types (a date-time outside the supported range)."""
    details = body["details"]
    return bool(details.get("field") == field or field in details)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"start_date": "0001-01-01T00:00:00Z"}, "start_date"),
        ({"start_date": _iso(NOW - timedelta(days=400))}, "start_date"),
        ({"start_date": _iso(NOW + timedelta(days=365 * 6))}, "start_date"),
        ({"billing_period_count": 13}, "billing_period_count"),
        ({"billing_period_count": 10**9}, "billing_period_count"),
    ],
)
def test_out_of_bounds_subscriptions_are_refused_by_field(
    http: httpx.Client, extra: dict[str, Any], field: str
) -> None:
    plan_id, _meter = plan_with_fee(http, unique("call"))
    response = http.post("/v1/subscriptions", json=_body(http, plan_id, **extra))
    assert response.status_code == 400, response.text
    assert _names(response.json(), field)
    assert (
        http.post("/v1/subscriptions/search", json={"plan_id": plan_id}).json()["pagination"][
            "total"
        ]
        == 0
    )


def test_start_dates_within_the_bounds_are_accepted(http: httpx.Client) -> None:
    plan_id, _meter = plan_with_fee(http, unique("call"))
    for start in (NOW - timedelta(days=360), NOW + timedelta(days=365 * 4)):
        response = http.post("/v1/subscriptions", json=_body(http, plan_id, start_date=_iso(start)))
        assert response.status_code == 201, response.text


def test_activation_start_date_is_bounded_too(http: httpx.Client) -> None:
    plan_id, _meter = plan_with_fee(http, unique("call"))
    draft = http.post(
        "/v1/subscriptions", json=_body(http, plan_id, subscription_status="draft")
    ).json()
    response = http.post(
        f"/v1/subscriptions/{draft['id']}/activate", json={"start_date": "0001-01-01T00:00:00Z"}
    )
    assert response.status_code == 400, response.text
    assert _names(response.json(), "start_date")


# ---- cancelling after a period ended, before the clock closed it -------------------------

START = (NOW - timedelta(days=40)).replace(hour=0, minute=0, second=0)
CANCEL_AT = NOW - timedelta(hours=2)


def _invoices(http: httpx.Client, subscription_id: str) -> list[tuple[Any, ...]]:
    found = http.post("/v1/invoices/search", json={"subscription_id": subscription_id}).json()
    out = []
    for invoice in found["items"]:
        full = http.get(f"/v1/invoices/{invoice['id']}").json()
        lines = sorted(
            (line.get("display_name"), line["amount"], line["quantity"], line["period_start"])
            for line in full.get("line_items", [])
        )
        out.append(
            (
                invoice["billing_reason"],
                invoice["period_start"],
                invoice["period_end"],
                invoice["subtotal"],
                invoice["total"],
                invoice["invoice_status"],
                tuple(lines),
            )
        )
    return sorted(out, key=lambda i: (i[1], i[0]))


def _with_usage(http: httpx.Client, plan_id: str, event_name: str) -> str:
    [(sub_id, external_id)] = subscribe_at(http, plan_id, 1, _iso(START))
    for stamp in (START + timedelta(days=3), START + timedelta(days=4), NOW - timedelta(days=3)):
        response = http.post(
            "/v1/events",
            json={
                "event_name": event_name,
                "external_customer_id": external_id,
                "timestamp": _iso(stamp),
            },
        )
        assert response.status_code in (200, 201, 202), response.text
    return sub_id


def _cancel(http: httpx.Client, subscription_id: str) -> None:
    response = http.post(
        f"/v1/subscriptions/{subscription_id}/cancel",
        json={
            "cancellation_type": "immediate",
            "cancel_at": _iso(CANCEL_AT),
            "cancel_immediately_invoice_policy": "generate_invoice",
        },
    )
    assert response.status_code == 200, response.text


def test_an_immediate_cancellation_before_the_clock_bills_as_if_the_clock_ran_first(
    tenant: Tenant, http: httpx.Client
) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("an in-process clock cannot share the server's in-process chdb store")
    event_name = unique("call")
    plan_id, _meter = plan_with_fee(http, event_name)
    early = _with_usage(http, plan_id, event_name)  # cancelled before the clock runs
    late = _with_usage(http, plan_id, event_name)  # the clock runs, then it is cancelled
    _cancel(http, early)
    db = Database.connect(Settings(database_url=tenant.server.database_url))
    try:
        clock.run_once(db)
    finally:
        db.dispose()
    _cancel(http, late)

    expected = _invoices(http, late)
    # opening, the ended period (its usage + the next period's fee), the cancellation
    assert [i[0] for i in expected] == [
        "SUBSCRIPTION_CREATE",
        "SUBSCRIPTION_CYCLE",
        "SUBSCRIPTION_UPDATE",
    ]
    assert expected[1][3] == "11"  # 2 calls × 0.5 + 10
    assert _invoices(http, early) == expected
    for sub_id in (early, late):
        assert http.get(f"/v1/subscriptions/{sub_id}").json()["subscription_status"] == "cancelled"
