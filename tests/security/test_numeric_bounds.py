"""Numbers at and past kernel.money's bounds (26 digits before the point, 12 after), on every
surface: out-of-bound commands are a 400 naming the field (never a 500, never rounded to 0),
out-of-bound event values count as 0 and are never expanded on disk, sums and balances keep
every digit up to the bound, and Kaiten counters that would pass it answer 409."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import Any

import httpx
import pytest

from tests.api.flexprice.test_prices import _price as price_body
from tests.conftest import Tenant, unique

D = Decimal
LARGEST = "99999999999999999999999999.999999999999"
TOO_BIG = "100000000000000000000000000"  # 10^26
TOO_FINE = "0.0000000000004"  # 13 places: PostgreSQL stored it as 0


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext(prec=100):
        return sum(values, Decimal(0))


def _bad_request(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text[:400]
    assert field in response.text, response.text[:400]


def _customer(http: httpx.Client) -> dict[str, Any]:
    created = http.post("/v1/customers", json={"external_id": unique("c"), "name": "n"})
    assert created.status_code in (200, 201), created.text
    return dict(created.json())


def _plan(http: httpx.Client) -> str:
    plan = http.post("/v1/plans", json={"name": unique("p"), "lookup_key": unique("p")})
    assert plan.status_code in (200, 201), plan.text
    return str(plan.json()["id"])


def _price(plan_id: str, **fields: Any) -> dict[str, Any]:
    return price_body({"id": plan_id}, **fields)


def raw_post(http: httpx.Client, path: str, body: str) -> httpx.Response:
    """JSON with number literals Python's json cannot write (``1e999999``)."""
    return http.post(path, content=body.encode(), headers={"content-type": "application/json"})


# ---- the wire: /v1 ---------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [TOO_BIG, "1e999999", TOO_FINE, "-1e30"])
def test_a_price_outside_the_bounds_is_a_400_naming_it(http: httpx.Client, amount: str) -> None:
    plan_id = _plan(http)
    _bad_request(http.post("/v1/prices", json=_price(plan_id, amount=amount)), "amount")
    tiered = _price(
        plan_id,
        type="USAGE",
        billing_model="TIERED",
        tier_mode="VOLUME",
        amount=None,
        tiers=[{"up_to": None, "unit_amount": amount}],
    )
    _bad_request(http.post("/v1/prices", json=tiered), "unit_amount")
    # The largest price the store keeps is accepted, exactly.
    ok = http.post("/v1/prices", json=_price(plan_id, amount=LARGEST))
    assert ok.status_code in (200, 201), ok.text
    assert ok.json()["amount"] == LARGEST
    assert ok.json()["display_amount"] == "$" + LARGEST  # not rounded to 28 digits
    fine = http.post("/v1/prices", json=_price(plan_id, amount="0.000000000001"))
    assert fine.status_code in (200, 201), fine.text
    assert fine.json()["amount"] == "0.000000000001"


def test_amounts_and_quantities_outside_the_bounds_are_a_400_naming_them(
    http: httpx.Client,
) -> None:
    customer = _customer(http)
    wallet = http.post("/v1/wallets", json={"customer_id": customer["id"], "currency": "usd"})
    assert wallet.status_code == 200, wallet.text
    wallet_id = wallet.json()["id"]
    for bad in (TOO_BIG, "1e999999", TOO_FINE):
        top_up = {"transaction_reason": "PURCHASED_CREDIT_DIRECT", "credits_to_add": bad}
        _bad_request(http.post(f"/v1/wallets/{wallet_id}/top-up", json=top_up), "credits_to_add")
        invoice = {
            "customer_id": customer["id"],
            "currency": "usd",
            "amount_due": bad,
            "subtotal": "1",
            "total": "1",
        }
        _bad_request(http.post("/v1/invoices", json=invoice), "amount_due")
        check = {
            "customer_id": customer["id"],
            "feature_id": "feat_none",
            "consume": bad,
        }
        _bad_request(http.post("/v1/entitlements/check", json=check), "consume")
        sum_meter = {
            "name": unique("m"),
            "event_name": unique("e"),
            "aggregation": {"type": "SUM_WITH_MULTIPLIER", "field": "n", "multiplier": bad},
            "reset_usage": "BILLING_PERIOD",
        }
        _bad_request(http.post("/v1/meters", json=sum_meter), "multiplier")
    # A JSON number past the bounds too (read as a float by the framework).
    _bad_request(
        raw_post(
            http,
            f"/v1/wallets/{wallet_id}/top-up",
            '{"transaction_reason": "PURCHASED_CREDIT_DIRECT", "credits_to_add": 1e30}',
        ),
        "credits_to_add",
    )
    entitlement = {
        "plan_id": _plan(http),
        "feature_id": "feat_none",
        "feature_type": "metered",
        "usage_limit": 10**30,
    }
    _bad_request(http.post("/v1/entitlements", json=entitlement), "usage_limit")


@pytest.mark.parametrize("prices", [[LARGEST], ["60000000000000000000000000"] * 2])
def test_an_invoice_past_the_bounds_is_refused_not_an_overflow(
    http: httpx.Client, prices: list[str]
) -> None:
    # Each price is within the bounds; the invoice is not (rounded to cents, or summed).
    plan_id = _plan(http)
    for amount in prices:
        created = http.post("/v1/prices", json=_price(plan_id, amount=amount))
        assert created.status_code in (200, 201), created.text
    customer = _customer(http)
    subscribed = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer["id"],
            "plan_id": plan_id,
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    assert subscribed.status_code == 400, subscribed.text
    assert "would pass" in subscribed.text


# ---- the wire and the counters: /api ----------------------------------------------------------


def _kaiten(tenant: Tenant) -> httpx.Client:
    return httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    )


def _problem(response: httpx.Response, status: int, needle: str) -> None:
    # The Kaiten dialect answers an invalid body 422 (its contract), a conflict 409.
    assert response.status_code == status, response.text[:400]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle in response.text, response.text[:400]


def _licensed_instance(api: httpx.Client, grant: int) -> tuple[str, str]:
    tag = unique("k")
    ent = api.post(
        "/entitlements",
        json={"name": tag, "slug": f"{tag}-n", "type": "NUMBER", "description": "d"},
    )
    assert ent.status_code in (200, 201), ent.text
    lic = api.post("/licenses", json={"name": tag, "slug": f"{tag}-l", "type": "PAID"})
    assert lic.status_code in (200, 201), lic.text
    granted = api.post(
        f"/licenses/{tag}-l/entitlements",
        json={"entitlementSlug": f"{tag}-n", "value": {"type": "number", "value": grant}},
    )
    assert granted.status_code in (200, 201), granted.text
    customer = api.post("/customers", json={"name": tag, "slug": f"{tag}-c"})
    assert customer.status_code in (200, 201), customer.text
    instance = api.post(
        "/instances",
        json={
            "name": tag,
            "slug": f"{tag}-i",
            "customerId": customer.json()["id"],
            "licenseId": lic.json()["id"],
            "startLicenseDate": "2026-01-01T00:00:00Z",
            "endLicenseDate": "2030-01-01T00:00:00Z",
        },
    )
    assert instance.status_code in (200, 201), instance.text
    return f"{tag}-i", f"{tag}-n"


def test_kaiten_values_and_counters_stay_within_the_bounds(tenant: Tenant) -> None:
    with _kaiten(tenant) as api:
        instance, entitlement = _licensed_instance(api, -1)  # unlimited: only the bound refuses
        usage = f"/instances/{instance}/entitlements/{entitlement}/usage"
        for bad in (TOO_BIG, "1e999999", TOO_FINE):
            _problem(
                raw_post(api, usage, f'{{"value": {{"type": "number", "value": {bad}}}}}'),
                422,
                "value",
            )
        big = "99999999999999999999999999"  # 26 digits: one is accepted, exactly
        first = raw_post(api, usage, f'{{"value": {{"type": "number", "value": {big}}}}}')
        assert first.status_code == 200, first.text
        assert json.loads(first.text, parse_float=D)["value"]["value"] == int(big)
        # The second would pass what a counter holds: a conflict, nothing stored.
        second = raw_post(api, usage, f'{{"value": {{"type": "number", "value": {big}}}}}')
        _problem(second, 409, "counter")
        again = api.get(usage)
        assert again.status_code == 200, again.text
        assert json.loads(again.text, parse_float=D)["value"]["value"] == int(big)
        # A grant value past the bounds is refused by name.
        tag = unique("g")
        assert api.post(
            "/entitlements", json={"name": tag, "slug": tag, "type": "NUMBER", "description": "d"}
        ).status_code in (200, 201)
        assert api.post(
            "/licenses", json={"name": tag, "slug": f"{tag}-l", "type": "PAID"}
        ).status_code in (200, 201)
        grant = api.post(
            f"/licenses/{tag}-l/entitlements",
            json={"entitlementSlug": tag, "value": {"type": "number", "value": 10**30}},
        )
        _problem(grant, 422, "value")


def test_free_form_json_with_a_number_out_of_range_is_refused_by_name(tenant: Tenant) -> None:
    """``1e999999`` in metadata, settings or a usage report's metadata parses to infinity,
    which PostgreSQL's json refused with a 500: every free-form field refuses it by name."""
    with _kaiten(tenant) as api:
        instance, entitlement = _licensed_instance(api, -1)
        for path, body, field in (
            (
                "/deployment-zones",
                '{"name": "z", "type": "t", "metadata": {"a": [1e999999]}}',
                "metadata",
            ),
            (
                f"/instances/{instance}/entitlements/{entitlement}/usage",
                '{"value": {"type": "number", "value": 1}, "metadata": {"a": -1e400}}',
                "metadata",
            ),
        ):
            _problem(raw_post(api, path, body), 422, field)
        assert api.get("/deployment-zones").json()["items"] == []
    with tenant.client() as http:
        search = raw_post(
            http,
            "/v1/customers/search",
            '{"filters": [{"field": "name", "operator": "eq", "value": {"string": 1e999999}}]}',
        )
        _bad_request(search, "filters[0].value")


# ---- wallets: balance equals its ledger at 29+ digits ------------------------------------------


def test_a_wallet_balance_equals_its_ledger_with_29_digit_amounts(http: httpx.Client) -> None:
    customer = _customer(http)
    wallet = http.post("/v1/wallets", json={"customer_id": customer["id"], "currency": "usd"})
    assert wallet.status_code == 200, wallet.text
    wallet_id = wallet.json()["id"]
    amounts = ["12345678901234567.123456789012", "12345678901234567.123456789012", "0.000000000001"]
    for amount in amounts:
        top_up = http.post(
            f"/v1/wallets/{wallet_id}/top-up",
            json={"transaction_reason": "PURCHASED_CREDIT_DIRECT", "credits_to_add": amount},
        )
        assert top_up.status_code == 200, top_up.text
    # 29 significant digits: the default decimal context (28) cannot even add these.
    expected = D("24691357802469134.246913578025")
    assert _exact_sum(D(a) for a in amounts) == expected
    read = http.get(f"/v1/wallets/{wallet_id}/balance/real-time")
    assert read.status_code == 200, read.text
    assert D(read.json()["credit_balance"]) == expected
    assert D(read.json()["balance"]) == expected  # conversion rate 1
    ledger = http.get(f"/v1/wallets/{wallet_id}/transactions", params={"order": "asc"}).json()
    entries = ledger["items"]
    assert _exact_sum(D(e["credit_amount"]) for e in entries) == expected
    assert D(entries[-1]["credit_balance_after"]) == expected
    for before, after in itertools.pairwise(entries):
        assert D(after["credit_balance_before"]) == D(before["credit_balance_after"])
    # A top-up that would pass the largest balance is refused, not an overflow.
    past = http.post(
        f"/v1/wallets/{wallet_id}/top-up",
        json={"transaction_reason": "PURCHASED_CREDIT_DIRECT", "credits_to_add": LARGEST},
    )
    assert past.status_code in (400, 409), past.text
    # Credits x rate has up to 24 places: stored rounded to 12, never refused for that.
    rated = http.post(
        "/v1/wallets",
        json={
            "customer_id": customer["id"],
            "currency": "eur",
            "conversion_rate": "0.333333333333",
        },
    )
    assert rated.status_code == 200, rated.text
    fine = http.post(
        f"/v1/wallets/{rated.json()['id']}/top-up",
        json={"transaction_reason": "PURCHASED_CREDIT_DIRECT", "credits_to_add": "0.123456789012"},
    )
    assert fine.status_code == 200, fine.text
    terminated = http.post(f"/v1/wallets/{wallet_id}/terminate")
    assert terminated.status_code == 200, terminated.text
    assert D(terminated.json()["credit_balance"]) == 0
