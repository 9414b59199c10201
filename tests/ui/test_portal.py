"""The customer portal: a link made through the SDK
(``customers.create_customer_portal_session``) opened in a real headless Chromium with
every other host refused, its content read back (usage chart, entitlement against its
limit, subscription, invoice and its PDF, wallet balance and transactions, credit note,
the seller); and its isolation over plain HTTP: a link shows its own customer only, an
expired or forged one shows nothing. Screenshots go to ``test-output/``."""

from __future__ import annotations

import hashlib
import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from tests.conftest import Server, Tenant, unique
from tests.ui.test_dashboard import CHROMIUM, FLAGS, OUTPUT, _seed


def _portal(tenant: Tenant, external_id: str) -> dict[str, Any]:
    with tenant.flexprice() as sdk:
        made = sdk.customers.create_customer_portal_session(external_id=external_id)
    assert made.url and made.token and made.url.endswith("/portal/" + made.token)
    assert made.expires_at is not None
    lifetime = made.expires_at - datetime.now(UTC)
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    return {"url": made.url, "token": made.token}


def _wallet_and_credit_note(http: httpx.Client, seeded: dict[str, Any]) -> dict[str, Any]:
    customer, invoice = seeded["customer"], seeded["invoice"]
    wallet = http.post(
        "/v1/wallets", json={"customer_id": customer["id"], "currency": "usd", "name": "Credits"}
    ).json()
    topped = http.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        json={"credits_to_add": "250", "transaction_reason": "FREE_CREDIT_GRANT"},
    )
    assert topped.status_code == 200, topped.text
    [line] = invoice["line_items"]
    note = http.post(
        "/v1/creditnotes",
        json={
            "invoice_id": invoice["id"],
            "reason": "SERVICE_ISSUE",
            "line_items": [{"invoice_line_item_id": line["id"], "amount": "4"}],
        },
    )
    assert note.status_code == 201, note.text
    return note.json()


def _expire(server: Server, token: str) -> None:
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE portal_sessions SET expires_at = :at WHERE token_hash = :h"),
                {
                    "at": datetime.now(UTC) - timedelta(seconds=1),
                    "h": hashlib.sha256(token.encode()).hexdigest(),
                },
            ).rowcount
    finally:
        engine.dispose()
    assert changed == 1


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")
def test_the_portal_in_chromium_shows_the_customer_its_own_billing(
    tenant: Tenant, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import Route, sync_playwright

    seeded = _seed(http)
    note = _wallet_and_credit_note(http, seeded)
    customer, invoice = seeded["customer"], seeded["invoice"]
    link = _portal(tenant, customer["external_id"])
    backend = request.node.callspec.params.get("server", "sqlite")
    OUTPUT.mkdir(exist_ok=True)
    base = tenant.server.base_url
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context(accept_downloads=True)
            context.route("**/*", only_this_server)
            page = context.new_page()
            page.goto(link["url"])
            assert page.locator("#customer-name").inner_text() == customer["name"]

            chart = page.locator(f".usage-chart[data-feature='{seeded['feature']['lookup_key']}']")
            assert chart.locator(".chart-total").inner_text() == "23"
            bars = chart.locator("rect.bar")
            assert bars.count() == 30
            values = {
                bars.nth(i).get_attribute("data-day"): bars.nth(i).get_attribute("data-value")
                for i in range(bars.count())
            }
            for day, expected in seeded["days"].items():
                assert values[day] == expected

            row = page.locator(
                f"#entitlements tr[data-feature='{seeded['feature']['lookup_key']}']"
            )
            assert row.locator("td").nth(1).inner_text() == "23"
            assert row.locator("td").nth(2).inner_text() == "100"
            assert row.locator(".progress").get_attribute("title") == "23%"
            assert "Growth" in page.locator("#subscriptions").inner_text()
            assert page.locator(".wallet-balance").inner_text() == "250"
            assert page.locator(".wallet-transaction").count() == 1
            notes = page.locator("#credit-notes").inner_text()
            assert note["credit_note_number"] in notes and "$4.00" in notes
            assert customer["id"] not in page.content()  # no internal ids for the customer
            page.screenshot(path=str(OUTPUT / f"portal-{backend}.png"), full_page=True)

            invoice_row = page.locator(f"#invoices tr[data-invoice='{invoice['invoice_number']}']")
            assert "$45.00" in invoice_row.inner_text()  # $49 less the $4 credit note
            with page.expect_download() as info:
                invoice_row.locator("a.pdf").click()
            content = Path(info.value.path()).read_bytes()
        finally:
            browser.close()

    assert elsewhere == []  # nothing but this server: the portal works offline
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert invoice["invoice_number"] in pdf_text and customer["name"] in pdf_text


def test_a_portal_link_shows_its_own_customer_only_and_not_after_expiry(
    tenant: Tenant, http: httpx.Client
) -> None:
    def customer_with_invoice(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        made = http.post("/v1/customers", json={"external_id": unique("c"), "name": name}).json()
        invoice = http.post(
            "/v1/invoices",
            json={
                "customer_id": made["id"],
                "currency": "usd",
                "amount_due": "7",
                "subtotal": "7",
                "total": "7",
            },
        ).json()
        assert http.post(f"/v1/invoices/{invoice['id']}/finalize").status_code == 200
        return made, invoice

    alice, alice_invoice = customer_with_invoice(f"Alice {unique('a')}")
    bob, bob_invoice = customer_with_invoice(f"Bob {unique('b')}")
    link = _portal(tenant, alice["external_id"])
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as browser:
        page = browser.get(f"/portal/{link['token']}")
        assert page.status_code == 200 and alice["name"] in page.text
        assert bob["name"] not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        own = browser.get(f"/portal/{link['token']}/invoices/{alice_invoice['id']}/pdf")
        assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"
        draft = http.post(
            "/v1/invoices",
            json={
                "customer_id": alice["id"],
                "currency": "usd",
                "amount_due": "1",
                "subtotal": "1",
                "total": "1",
            },
        ).json()
        assert browser.get(f"/portal/{link['token']}/invoices/{draft['id']}/pdf").status_code == 404
        # Alice's link and Bob's invoice: not found, and nothing of Bob's in the answer.
        other = browser.get(f"/portal/{link['token']}/invoices/{bob_invoice['id']}/pdf")
        assert other.status_code == 404 and bob["name"] not in other.text
        forged = browser.get("/portal/" + "A" * 43)
        assert forged.status_code == 401 and alice["name"] not in forged.text
        assert browser.get("/portal/" + "A" * 500).status_code == 401

        _expire(tenant.server, link["token"])
        expired = browser.get(f"/portal/{link['token']}")
        assert expired.status_code == 401 and "expired" in expired.text
        assert alice["name"] not in expired.text
        late_pdf = browser.get(f"/portal/{link['token']}/invoices/{alice_invoice['id']}/pdf")
        assert late_pdf.status_code == 401

    # Making a link: a key of another environment finds no such customer; a read-only key
    # may not make one (the SDK marks the operation a write); an unknown customer is a 404.
    other_env = tenant.server.client(tenant.server.bootstrap_key)
    with other_env:
        assert other_env.get(f"/v1/customers/portal/{alice['external_id']}").status_code == 404
    read_only = http.post("/v1/secrets/api/keys", json={"name": "ro", "scopes": ["read:*"]}).json()[
        "api_key"
    ]
    with tenant.server.client(read_only) as reader:
        assert reader.get(f"/v1/customers/portal/{alice['external_id']}").status_code == 403
    missing = http.get("/v1/customers/portal/nobody-here")
    assert missing.status_code == 404 and missing.json()["http_status_code"] == 404


def test_the_portal_hands_out_the_license_files_of_the_customers_own_installations(
    tenant: Tenant, http: httpx.Client
) -> None:
    slug = unique("pl").replace("_", "-")
    assert http.post(
        "/api/licenses", json={"name": slug, "slug": slug, "type": "PAID"}
    ).status_code in (200, 201)
    license_id = http.get(f"/api/licenses/{slug}").json()["id"]
    made = {}
    for who in ("alice", "bob"):
        external = unique(who)
        customer = http.post(
            "/api/customers", json={"name": f"{who} {external}", "externalCustomerId": external}
        )
        assert customer.status_code == 201, customer.text
        instance = http.post(
            "/api/instances",
            json={
                "name": f"{who} on-prem",
                "slug": f"{slug}-{who}",
                "customerId": customer.json()["id"],
                "licenseId": license_id,
                "startLicenseDate": "2026-01-01T00:00:00Z",
                "endLicenseDate": "2036-01-01T00:00:00Z",
            },
        )
        assert instance.status_code == 201, instance.text
        made[who] = (external, f"{slug}-{who}")
    link = _portal(tenant, made["alice"][0])
    alice_instance, bob_instance = made["alice"][1], made["bob"][1]
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as browser:
        page = browser.get(f"/portal/{link['token']}").text
        assert f'data-instance="{alice_instance}"' in page and bob_instance not in page
        own = browser.get(f"/portal/{link['token']}/instances/{alice_instance}/license-file")
        assert own.status_code == 200, own.text
        assert own.headers["content-type"].startswith("application/x-meterline-license")
        assert own.headers["referrer-policy"] == "no-referrer"
        # The file is the one the licensing API issues: it verifies with the published key.
        verified = http.post("/api/license-files/verify", json={"file": own.text})
        assert verified.status_code == 200, verified.text
        assert verified.json()["allowed"] is True, verified.text
        theirs = browser.get(f"/portal/{link['token']}/instances/{bob_instance}/license-file")
        assert theirs.status_code == 404 and "BEGIN" not in theirs.text
        _expire(tenant.server, link["token"])
        late = browser.get(f"/portal/{link['token']}/instances/{alice_instance}/license-file")
        assert late.status_code == 401
