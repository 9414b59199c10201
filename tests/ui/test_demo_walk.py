"""The dashboard on a demo database (``meterline demo``), in a real headless Chromium: every
page of the navigation (the wallets, licenses and instances lists among them, and the demo's
low-balance alert on the overview), a customer's page, and every action a vendor takes there (create a
customer, subscribe it, finalize, mark paid and void invoices, top up a wallet, mint and
revoke a key, add a webhook endpoint and replay a delivery to it (the same message arrives
again), save the seller profile), each checked against the API
afterwards. Every number of the overview equals the API's: MRR (the MRR report), amounts due
and overdue (the invoices), revenue by month and top customers by revenue (the revenue
analytics), usage per day and top customers by usage (usage by meter).
Screenshots go to ``test-output/demo-*.png``. SQLite only: the demo seeds the embedded
default, as a first-time user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server, stop_server, unique
from tests.ui.test_dashboard import CHROMIUM, FLAGS, OUTPUT
from tests.ui.test_overview import _values
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 - the receiving endpoint

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (.ci/run installs it with apt-get)",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server on a database seeded by ``meterline demo``, and the key the demo printed."""
    root = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{root / 'demo.db'}"
    seeded = subprocess.run(
        [sys.executable, "-m", "meterline", "demo", "--customers", "12"],
        env={**os.environ, "METERLINE_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    key = seeded.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_"), seeded.stdout[-500:]
    server = start_server(url, root)
    try:
        yield server, key
    finally:
        stop_server(server)


def _json(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return json.loads(answer.text, parse_float=D)


def _invoices(api: httpx.Client) -> list[dict[str, Any]]:
    return list(_json(api.get("/v1/invoices", params={"limit": 1000}))["items"])


def _invoice(api: httpx.Client, invoice_id: str) -> dict[str, Any]:
    return dict(_json(api.get(f"/v1/invoices/{invoice_id}")))


def _overview_equals_the_api(html: str, api: httpx.Client) -> None:
    now = datetime.now(UTC)
    invoices = _invoices(api)
    owed: dict[str, D] = defaultdict(D)
    late: dict[str, D] = defaultdict(D)
    late_count = 0
    for i in invoices:
        if i["invoice_status"] != "FINALIZED" or not D(i["amount_remaining"]):
            continue
        owed[i["currency"].lower()] += D(i["amount_remaining"])
        due = i.get("due_date")
        if due and datetime.fromisoformat(due.replace("Z", "+00:00")) < now:
            late[i["currency"].lower()] += D(i["amount_remaining"])
            late_count += 1
    assert owed and late, "the demo has invoices due and overdue"
    assert _values(html, "due") == dict(owed)
    assert _values(html, "overdue") == dict(late)
    counted = re.search(r"Overdue · (\d+) invoices?<", html)
    assert counted is not None and int(counted[1]) == late_count
    # Revenue by month: the revenue analytics of finalized invoices, summed by month.
    first = (now.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    report = _json(
        api.post(
            "/v1/analytics/revenue",
            json={"start_time": f"{first}T00:00:00Z", "granularity": "day"},
        )
    )
    by_month: dict[str, D] = defaultdict(D)
    for row in report["rows"]:
        if row["status"] == "FINAL" and row.get("currency", "usd").lower() == "usd":
            by_month[row["day"][:7]] += D(row["net_amount"])
    chart = re.search(r'class="card revenue-chart" data-currency="usd".*?</svg>', html, re.S)
    assert chart is not None
    bars = dict(re.findall(r'data-day="(\d{4}-\d{2})-01" data-value="([^"]+)"', chart[0]))
    assert by_month and all(
        D(bars[month].replace(",", "")) == amount for month, amount in by_month.items()
    ), (bars, dict(by_month))
    # Top customers by revenue: the revenue analytics of the twelve months shown, by customer.
    back = now.year * 12 + now.month - 1 - 11
    since = f"{back // 12:04d}-{back % 12 + 1:02d}-01T00:00:00Z"
    by_customer = _json(
        api.post(
            "/v1/analytics/revenue",
            json={
                "start_time": since,
                "granularity": "total",
                "status": "FINAL",
                "group_by": ["customer_id"],
            },
        )
    )
    totals: dict[tuple[str, str], D] = defaultdict(D)
    for row in by_customer["rows"]:
        totals[row["group"]["customer_id"], row["group"]["currency"]] += D(row["net_amount"])
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    table = re.search(r'id="top-revenue".*?</table>', html, re.S)
    assert table is not None
    shown_top = re.findall(
        r'href="/ui/customers/([^"]+)">[^<]*</a></td><td class="num" data-value="([^"]+)"',
        table[0],
    )
    assert ranked and [(c, D(v)) for c, v in shown_top] == [(c, a) for (c, _), a in ranked]
    # MRR: the API's MRR report, per currency.
    mrr = _json(
        api.post(
            "/v1/analytics/reports/mrr/query", json={"range": "last_1_days", "shape": "scalar"}
        )
    )
    assert _values(html, "mrr") == {c.lower(): D(v) for c, v in mrr["rows"]}
    # Usage per day: each meter's chart is usage by meter in DAY windows, all customers.
    charts = re.findall(r'data-meter="([^"]+)"(.*?)</svg>', html, re.S)
    assert charts, "the demo meters usage"
    # The chart's 30 UTC days end today: from midnight 29 days back.
    first_day = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    for meter_id, chart_html in charts:
        usage = _json(
            api.post(
                "/v1/events/usage/meter",
                json={
                    "meter_id": meter_id,
                    "start_time": _z(first_day),
                    "end_time": _z(now),
                    "window_size": "DAY",
                },
            )
        )
        api_days = {w["window_size"][:10]: D(w["value"]) for w in usage["results"] if w["value"]}
        shown = {
            day: D(v.replace(",", ""))
            for day, v in re.findall(r'data-day="([\d-]+)" data-value="([^"]+)"', chart_html)
            if v != "0"
        }
        assert shown == api_days, meter_id
    # Top customers by usage, per feature: each customer's usage by meter over the same days.
    features = _json(api.get("/v1/features", params={"limit": 100}))["items"]
    meter_of = {f["name"]: f["meter_id"] for f in features if f.get("meter_id")}
    people = _json(api.get("/v1/customers", params={"limit": 100}))["items"]
    tables = re.findall(
        r'<table class="top-usage" data-feature="([^"]+)">(.*?)</table>', html, re.S
    )
    assert tables, "the demo's features have usage"
    for name, table_html in tables:
        used: dict[str, D] = {}
        for person in people:
            answer = _json(
                api.post(
                    "/v1/events/usage/meter",
                    json={
                        "meter_id": meter_of[name],
                        "external_customer_id": person["external_id"],
                        "start_time": _z(first_day),
                        "end_time": _z(now),
                        "window_size": "DAY",
                    },
                )
            )
            total = sum((D(w["value"]) for w in answer["results"]), D(0))
            if total:
                used[person["external_id"]] = total
        rows = re.findall(r'data-customer="([^"]+)">.*?data-value="([^"]+)"', table_html, re.S)
        # The five largest, largest first (ties in any order), each the customer's own total.
        assert [D(v) for _, v in rows] == sorted(used.values(), reverse=True)[:5], name
        assert all(used[c] == D(v) for c, v in rows), name


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_every_page_and_action_on_a_demo_database(
    demo: tuple[Server, str],
    receiver: Receiver,  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import sync_playwright

    server, key = demo
    api = httpx.Client(base_url=server.base_url, headers={"x-api-key": key}, timeout=30)
    invoices = _invoices(api)
    draft = next(i for i in invoices if i["invoice_status"] == "DRAFT")
    unpaid = [
        i
        for i in invoices
        if i["invoice_status"] == "FINALIZED"
        and i["payment_status"] != "SUCCEEDED"
        and D(i["amount_remaining"]) > 0
    ]
    to_pay, to_void = unpaid[0], next(i for i in unpaid[1:] if i["id"] != unpaid[0]["id"])
    OUTPUT.mkdir(exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(OUTPUT / f"demo-{name}.png"), full_page=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(server.base_url + "/ui/login")
            page.click("text=Sign in with an API key")
            page.fill("form.api-key-sign-in input[name=api_key]", key)
            page.click("form.api-key-sign-in button[type=submit]")
            page.wait_for_url("**/ui/customers")

            # Every page of the navigation answers, under its own heading.
            for label, path, heading in (
                ("Overview", "overview", None),
                ("Customers", "customers", "Customers"),
                ("Subscriptions", "subscriptions", "Subscriptions"),
                ("Invoices", "invoices", "Invoices"),
                ("Plans", "plans", "Plans"),
                ("Wallets", "wallets", "Wallets"),
                ("Licenses", "licenses", "Licenses"),
                ("Instances", "instances", "Instances"),
                ("API keys", "keys", "API keys"),
                ("Webhooks", "webhooks", "Webhooks"),
                ("Seller profile", "settings/profile", "Seller profile"),
            ):
                page.click(f"header nav >> text={label}")
                page.wait_for_url(f"**/ui/{path}")
                if heading is not None:
                    assert page.locator("h1").inner_text() == heading
                shot(page, path.replace("/", "-"))
            page.click("#account-link")
            page.wait_for_url("**/ui/account")
            assert page.locator("h1").inner_text() == "Account"
            shot(page, "account")

            # The overview's figures are the API's, and the demo's low-balance alert is listed.
            page.goto(server.base_url + "/ui/overview")
            _overview_equals_the_api(page.content(), api)
            wallets = _json(api.get("/v1/wallets", params={"limit": 100}))["items"]
            alarmed = [w for w in wallets if w.get("alert_state") == "in_alarm"]
            assert len(alarmed) == 1, [w.get("alert_state") for w in wallets]
            row = page.locator(f"#alerts tr[data-entity='{alarmed[0]['id']}']")
            assert row.get_attribute("data-state") == "in_alarm"

            # The wallets, licenses and instances lists show what the API holds.
            page.goto(server.base_url + "/ui/wallets")
            listed = page.locator("#wallets tr[data-wallet]")
            assert {listed.nth(n).get_attribute("data-wallet") for n in range(listed.count())} == {
                w["id"] for w in wallets
            }
            page.goto(server.base_url + "/ui/instances")
            assert page.locator("#instances tr[data-instance]").count() == 1
            assert "acme-prod" in page.locator("#instances").inner_text()
            page.click("header nav >> text=Licenses")
            page.wait_for_url("**/ui/licenses")
            page.click("#licenses tr[data-license] td.num a")
            page.wait_for_url("**/ui/instances?license=**")
            assert page.locator("#instances tr[data-instance]").count() == 1
            shot(page, "instances-of-license")

            # Create a customer, then subscribe it to a plan from its page.
            page.goto(server.base_url + "/ui/customers")
            page.click("#new-customer summary")
            external = unique("walk")
            page.fill("#new-customer input[name=external_id]", external)
            page.fill("#new-customer input[name=name]", "Walkthrough Ltd")
            page.click("#new-customer button[type=submit]")
            page.wait_for_selector("h1:has-text('Walkthrough Ltd')")
            made = _json(api.get("/v1/customers", params={"external_id": external}))["items"]
            assert [c["name"] for c in made] == ["Walkthrough Ltd"]
            page.click("#subscribe button[type=submit]")
            page.wait_for_load_state()
            subs = _json(api.get("/v1/subscriptions", params={"customer_id": made[0]["id"]}))
            assert len(subs["items"]) == 1
            shot(page, "customer-subscribed")

            # Finalize a draft, mark an invoice paid, void another: each from its customer's page.
            for invoice, button, check in (
                (draft, "finalize", lambda i: i["invoice_status"] == "FINALIZED"),
                (to_pay, "paid", lambda i: i["payment_status"] == "SUCCEEDED"),
                (to_void, "void", lambda i: i["invoice_status"] == "VOIDED"),
            ):
                page.goto(f"{server.base_url}/ui/customers/{invoice['customer_id']}")
                page.click(f"tr[data-invoice='{invoice['id']}'] button.{button}")
                page.wait_for_load_state()
                assert check(_invoice(api, invoice["id"])), (button, invoice["id"])
            shot(page, "customer-invoices")

            # Top up a wallet.
            wallets = _json(api.get("/v1/wallets", params={"limit": 100}))["items"]
            wallet = next(w for w in wallets if w["wallet_status"] == "active")
            before = D(wallet["credit_balance"])
            page.goto(f"{server.base_url}/ui/customers/{wallet['customer_id']}")
            page.fill("form.top-up input[name=credits]", "25")
            page.click("form.top-up button[type=submit]")
            page.wait_for_load_state()
            after = D(_json(api.get(f"/v1/wallets/{wallet['id']}"))["credit_balance"])
            assert after == before + 25

            # Mint a key (shown once, and it works), then revoke it.
            page.goto(server.base_url + "/ui/keys")
            page.fill("#mint-key input[name=name]", "walkthrough")
            page.click("#mint-key button[type=submit]")
            minted = page.locator("#minted-key").inner_text().strip()
            probe = httpx.get(
                server.base_url + "/v1/customers", headers={"x-api-key": minted}, timeout=30
            )
            assert probe.status_code == 200
            shot(page, "keys-minted")
            key_rows = page.locator("tr[data-key]")
            minted_id = next(
                key_rows.nth(n).get_attribute("data-key")
                for n in range(key_rows.count())
                if "walkthrough" in key_rows.nth(n).inner_text()
            )
            page.click(f"tr[data-key='{minted_id}'] button.revoke")
            page.wait_for_load_state()
            probe = httpx.get(
                server.base_url + "/v1/customers", headers={"x-api-key": minted}, timeout=30
            )
            assert probe.status_code == 401

            # Add a webhook endpoint; a delivery to it, replayed from its page.
            page.goto(server.base_url + "/ui/webhooks")
            path = f"/{unique('walk')}"
            hook_url = receiver.url(path)
            page.fill("#add-endpoint input[name=url]", hook_url)
            page.click("#add-endpoint button[type=submit]")
            page.wait_for_load_state()
            hooks = _json(api.get("/v1/webhooks/endpoints"))["items"]
            [hook] = [h for h in hooks if h["url"] == hook_url]
            made = api.post("/v1/customers", json={"external_id": unique("hook"), "name": "Hook"})
            assert made.status_code == 201, made.text
            [first] = receiver.wait_for(path, 1)
            deliveries = f"/v1/webhooks/endpoints/{hook['id']}/deliveries"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # finished once the answer is recorded
                done = _json(api.get(deliveries))["items"]
                if done and done[0]["status"] != "pending":
                    break
                time.sleep(0.05)
            page.goto(server.base_url + "/ui/webhooks")
            shot(page, "webhooks-added")
            page.click(f"tr[data-delivery='{done[0]['id']}'] button.replay")
            page.wait_for_load_state()
            _, again = receiver.wait_for(path, 2)
            assert again.headers["webhook-id"] == first.headers["webhook-id"]  # the same message
            assert again.json == first.json

            # Save the seller profile.
            page.goto(server.base_url + "/ui/settings/profile")
            page.fill("#legal_name", "Demo Software GmbH")
            page.click("#profile button[type=submit]")
            page.wait_for_load_state()
            page.goto(server.base_url + "/ui/settings/profile")
            assert page.locator("#legal_name").input_value() == "Demo Software GmbH"

            # And the overview still equals the API after all of it.
            page.goto(server.base_url + "/ui/overview")
            _overview_equals_the_api(page.content(), api)
            shot(page, "overview-after")
        finally:
            browser.close()
            api.close()
