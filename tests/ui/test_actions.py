"""The dashboard's actions over real HTTP: each needs the session's CSRF token and the role
the same write needs on /v1, does what the API does, and a refusal says why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from flexprice import Flexprice

from tests.api.flexprice.builders import plan_price
from tests.conftest import Tenant, unique
from tests.ui.test_dashboard import form_csrf, login_csrf


@contextmanager
def _browser(tenant: Tenant, key: str | None = None) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as client:
        signed = client.post(
            "/ui/login", data={"api_key": key or tenant.key, "csrf": login_csrf(client)}
        )
        assert signed.status_code == 303, signed.text
        yield client, form_csrf(client.get("/ui/customers").text)


def test_create_subscribe_bill_collect_and_top_up(
    tenant: Tenant, fp: Flexprice, http: httpx.Client
) -> None:
    plan = fp.plans.create_plan(name="Dash plan", lookup_key=unique("dash"))
    plan_price(
        fp, plan.id, type_="FIXED", billing_model="FLAT_FEE", amount="40", invoice_cadence="ADVANCE"
    )
    external = unique("dash_cust")
    with _browser(tenant) as (ui, csrf):
        # Without the token nothing happens.
        forged = ui.post("/ui/customers", data={"external_id": external, "name": "Dash"})
        assert forged.status_code == 403
        assert not http.get("/v1/customers", params={"external_id": external}).json()["items"]

        made = ui.post(
            "/ui/customers",
            data={"external_id": external, "name": "Dash Co", "email": "", "csrf": csrf},
        )
        assert made.status_code == 303, made.text
        customer_id = made.headers["location"].rsplit("/", 1)[1]
        assert http.get(f"/v1/customers/{customer_id}").json()["external_id"] == external
        # The dashboard's write is in the activity log, as the dashboard's.
        logged = http.post("/v1/activity", json={"entity_id": customer_id}).json()["items"]
        assert [(e["action"], e["source"]) for e in logged] == [("created", "dashboard")]

        refused = ui.post("/ui/customers", data={"external_id": "", "name": "No id", "csrf": csrf})
        assert refused.status_code == 400 and "external_id is required" in refused.text

        subscribed = ui.post(
            f"/ui/customers/{customer_id}/subscriptions",
            data={
                "plan_id": plan.id,
                "currency": "USD",
                "billing_period": "MONTHLY",
                "csrf": csrf,
            },
        )
        assert subscribed.status_code == 303, subscribed.text
        [sub] = http.get("/v1/subscriptions", params={"customer_id": customer_id}).json()["items"]
        assert sub["plan_id"] == plan.id

        [opening] = http.get("/v1/invoices", params={"customer_id": customer_id}).json()["items"]
        page = ui.get(f"/ui/customers/{customer_id}").text
        assert f'action="/ui/invoices/{opening["id"]}/finalize"' in page
        assert (
            ui.post(f"/ui/invoices/{opening['id']}/finalize", data={"csrf": csrf}).status_code
            == 303
        )
        marked = ui.post(f"/ui/invoices/{opening['id']}/paid", data={"csrf": csrf})
        assert marked.status_code == 303, marked.text
        paid = http.get(f"/v1/invoices/{opening['id']}").json()
        assert (paid["payment_status"], paid["amount_remaining"]) == ("SUCCEEDED", "0")
        # A paid invoice cannot be voided from the page (no button) nor by a forged post.
        assert (
            f"/ui/invoices/{opening['id']}/void" not in ui.get(f"/ui/customers/{customer_id}").text
        )

        one_off = http.post(
            "/v1/invoices",
            json={
                "customer_id": customer_id,
                "currency": "usd",
                "amount_due": "12",
                "subtotal": "12",
                "total": "12",
                "line_items": [{"display_name": "Extra", "amount": "12", "quantity": "1"}],
            },
        ).json()
        assert ui.post(f"/ui/invoices/{one_off['id']}/void", data={"csrf": csrf}).status_code == 303
        assert http.get(f"/v1/invoices/{one_off['id']}").json()["invoice_status"] == "VOIDED"

        wallet = http.post(
            "/v1/wallets", json={"customer_id": customer_id, "currency": "usd"}
        ).json()
        for bad in ("-5", "abc", "1e999999", ""):
            answer = ui.post(
                f"/ui/wallets/{wallet['id']}/top-up", data={"credits": bad, "csrf": csrf}
            )
            assert answer.status_code == 400, (bad, answer.text)
        topped = ui.post(
            f"/ui/wallets/{wallet['id']}/top-up", data={"credits": "25.5", "csrf": csrf}
        )
        assert topped.status_code == 303
        balance = http.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json()
        assert balance["credit_balance"] == "25.5"


def test_keys_and_webhooks(tenant: Tenant, http: httpx.Client) -> None:
    with _browser(tenant) as (ui, csrf):
        minted = ui.post("/ui/keys", data={"name": "from the dashboard", "csrf": csrf})
        assert minted.status_code == 200 and minted.headers["cache-control"] == "no-store"
        found = re.search(r'id="minted-key">([^<]+)<', minted.text)
        assert found is not None
        key = found[1]
        assert (
            httpx.get(
                tenant.server.base_url + "/v1/customers", headers={"x-api-key": key}
            ).status_code
            == 200
        )
        [row] = re.findall(r'<tr data-key="([^"]+)">\s*<td>from the dashboard', minted.text)
        revoked = ui.post(f"/ui/keys/{row}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 303, revoked.text
        assert (
            httpx.get(
                tenant.server.base_url + "/v1/customers", headers={"x-api-key": key}
            ).status_code
            == 401
        )
        assert row not in ui.get("/ui/keys").text

        added = ui.post(
            "/ui/webhooks",
            data={"url": "http://127.0.0.1:9/hooks", "description": "dash", "csrf": csrf},
        )
        assert added.status_code == 303, added.text
        endpoints = http.get("/v1/webhooks/endpoints").json()["items"]
        assert [e["url"] for e in endpoints] == ["http://127.0.0.1:9/hooks"]
        bad = ui.post("/ui/webhooks", data={"url": "not a url", "csrf": csrf})
        assert bad.status_code == 400
        page = ui.get("/ui/webhooks")
        assert page.status_code == 200 and "http://127.0.0.1:9/hooks" in page.text
        missing = ui.post(
            f"/ui/webhooks/{endpoints[0]['id']}/deliveries/whd_nope/replay", data={"csrf": csrf}
        )
        assert missing.status_code == 404


def test_a_read_only_key_may_look_but_not_act(tenant: Tenant, http: httpx.Client) -> None:
    reader = http.post("/v1/secrets/api/keys", json={"name": "reader", "scopes": ["read:billing"]})
    assert reader.status_code == 201, reader.text
    with _browser(tenant, reader.json()["api_key"]) as (ui, csrf):
        assert ui.get("/ui/customers").status_code == 200
        denied = ui.post(
            "/ui/customers", data={"external_id": unique("ro"), "name": "No", "csrf": csrf}
        )
        assert denied.status_code == 403
        assert ui.post("/ui/keys", data={"name": "escalate", "csrf": csrf}).status_code == 403
