"""The dashboard end to end in a real headless Chromium (Debian's ``chromium`` driven by
Playwright): sign in with an API key, find a customer, read the usage chart's numbers,
check the entitlement's progress, download the invoice PDF. Screenshots go to
``test-output/``."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import Tenant, unique

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (.ci/run installs it with apt-get)",
)


def login_csrf(browser: httpx.Client) -> str:
    """The sign-in form's CSRF token (its cookie lands in ``browser``'s jar)."""
    return form_csrf(browser.get("/ui/login").text)


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def _seed(http: httpx.Client) -> dict[str, Any]:
    name = f"Globex {unique('g')}"
    customer = http.post(
        "/v1/customers", json={"external_id": unique("globex"), "name": name}
    ).json()
    event_name = unique("api_call")
    feature = http.post(
        "/v1/features",
        json={
            "name": "API calls",
            "type": "metered",
            "lookup_key": unique("api"),
            "meter": {
                "name": "API calls",
                "event_name": event_name,
                "aggregation": {"type": "SUM", "field": "n"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    plan = http.post("/v1/plans", json={"name": "Growth"}).json()
    price = http.post(
        "/v1/prices",
        json={
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "type": "FIXED",
            "price_unit_type": "FIAT",
            "currency": "usd",
            "billing_model": "FLAT_FEE",
            "amount": "49",
            "billing_period": "MONTHLY",
            "invoice_cadence": "ADVANCE",
        },
    )
    assert price.status_code == 201, price.text
    grant = http.post(
        "/v1/entitlements",
        json={
            "plan_id": plan["id"],
            "feature_id": feature["id"],
            "feature_type": "metered",
            "usage_limit": 100,
            "usage_reset_period": "MONTHLY",
        },
    )
    assert grant.status_code == 201, grant.text
    now = datetime.now(UTC)
    sub = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
            "start_date": (now - timedelta(days=10)).isoformat().replace("+00:00", "Z"),
        },
    )
    assert sub.status_code == 201, sub.text
    three_days_ago = (now - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = (now - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    events = [
        (three_days_ago, 5),
        (three_days_ago + timedelta(hours=2), 7),
        (yesterday, 11),
    ]
    ingest = http.post(
        "/v1/events/bulk",
        json={
            "events": [
                {
                    "event_name": event_name,
                    "external_customer_id": customer["external_id"],
                    "event_id": unique("ev"),
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "properties": {"n": n},
                }
                for at, n in events
            ]
        },
    )
    assert ingest.status_code == 202, ingest.text
    invoices = http.get("/v1/invoices", params={"customer_id": customer["id"]}).json()["items"]
    [opening] = invoices
    if opening["invoice_status"] == "DRAFT":
        assert http.post(f"/v1/invoices/{opening['id']}/finalize").status_code == 200
    invoice = http.get(f"/v1/invoices/{opening['id']}").json()
    return {
        "customer": customer,
        "feature": feature,
        "invoice": invoice,
        "days": {three_days_ago.date().isoformat(): "12", yesterday.date().isoformat(): "11"},
    }


def test_sign_in_open_customer_read_chart_and_download_invoice_pdf(
    tenant: Tenant, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import sync_playwright

    seeded = _seed(http)
    customer, invoice = seeded["customer"], seeded["invoice"]
    backend = request.node.callspec.params.get("server", "sqlite")
    OUTPUT.mkdir(exist_ok=True)
    base = tenant.server.base_url

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(base + "/ui/customers")
            assert page.url.endswith("/ui/login")  # not signed in yet
            page.click("text=Sign in with an API key")
            page.fill("form.api-key-sign-in input[name=api_key]", "sk_wrong_key_123")
            page.click("form.api-key-sign-in button[type=submit]")
            assert page.locator("[role=alert]").inner_text() == "Invalid API key"

            page.click("text=Sign in with an API key")
            page.fill("form.api-key-sign-in input[name=api_key]", tenant.key)
            page.click("form.api-key-sign-in button[type=submit]")
            page.wait_for_url("**/ui/customers")
            cookies = page.context.cookies()
            [session_cookie] = [c for c in cookies if c["name"] == "meterline_ui"]
            assert session_cookie["httpOnly"] is True
            assert tenant.key not in session_cookie["value"]

            page.fill("input[name=q]", customer["name"][:12])
            page.click("form.card button[type=submit]")
            page.screenshot(path=str(OUTPUT / f"dashboard-customers-{backend}.png"), full_page=True)
            page.click(f"text={customer['name']}")
            page.wait_for_url(f"**/ui/customers/{customer['id']}")

            chart = page.locator(f".usage-chart[data-feature='{seeded['feature']['lookup_key']}']")
            assert chart.locator(".chart-total").inner_text() == "23"
            assert chart.locator(".chart-peak").inner_text() == "12"
            bars = chart.locator("rect.bar")
            assert bars.count() == 30
            values = {
                bars.nth(i).get_attribute("data-day"): bars.nth(i).get_attribute("data-value")
                for i in range(bars.count())
            }
            for day, expected in seeded["days"].items():
                assert values[day] == expected
            assert sum(int(v or 0) for v in values.values()) == 23

            row = page.locator(
                f"#entitlements tr[data-feature='{seeded['feature']['lookup_key']}']"
            )
            cells = row.locator("td")
            assert cells.nth(2).inner_text() == "23"
            assert cells.nth(3).inner_text() == "100"
            assert row.locator(".progress").get_attribute("title") == "23%"
            assert "Growth" in page.locator("#subscriptions").inner_text()
            page.screenshot(path=str(OUTPUT / f"dashboard-customer-{backend}.png"), full_page=True)

            invoice_row = page.locator(f"#invoices tr[data-invoice='{invoice['id']}']")
            assert invoice["invoice_number"] in invoice_row.inner_text()
            assert "$49.00" in invoice_row.inner_text()
            with page.expect_download() as info:
                invoice_row.locator("a.pdf").click()
            download = info.value
            assert download.suggested_filename == f"{invoice['invoice_number']}.pdf"
            content = Path(download.path()).read_bytes()
        finally:
            browser.close()

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert invoice["invoice_number"] in text
    assert customer["name"] in text
    assert "$49.00" in text


def test_dashboard_refuses_without_a_session_and_for_other_environments(
    tenant: Tenant, http: httpx.Client
) -> None:
    customer = http.post("/v1/customers", json={"external_id": unique("x"), "name": "X"}).json()
    with httpx.Client(base_url=tenant.server.base_url) as browser:
        refused = browser.get(f"/ui/customers/{customer['id']}", follow_redirects=False)
        assert (refused.status_code, refused.headers["location"]) == (303, "/ui/login")
        browser.cookies.set("meterline_ui", "forged", path="/ui")
        forged = browser.get("/ui/customers", follow_redirects=False)
        assert (forged.status_code, forged.headers["location"]) == (303, "/ui/login")
        browser.cookies.clear()
        signed = browser.post(
            "/ui/login",
            data={"api_key": tenant.key, "csrf": login_csrf(browser)},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert browser.get(f"/ui/customers/{customer['id']}").status_code == 200
        assert browser.get("/ui/customers/cust_missing").status_code == 404
        assert browser.get("/ui/invoices/inv_missing/pdf").status_code == 404
        assert browser.get("/ui/customers", params={"page": 0}).status_code == 400
        page = browser.get("/ui/customers").text
        assert browser.post("/ui/logout").status_code == 403  # no CSRF token: refused
        assert browser.get("/ui/customers").status_code == 200
        browser.post("/ui/logout", data={"csrf": form_csrf(page)})
        after = browser.get(f"/ui/customers/{customer['id']}", follow_redirects=False)
        assert after.status_code == 303
