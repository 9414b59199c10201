"""The dashboard's overview and lists: every number the overview shows equals what the API
answers for the same question (revenue analytics, the invoice list, usage by meter), MRR is
the recurring fees normalised to a month, and the lists filter, sort and page. A browser
walk of every page saves screenshots to ``test-output/``."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from flexprice import Flexprice

from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Tenant, new_tenant, unique
from tests.ui.test_dashboard import login_csrf

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _seed(fp: Flexprice, http: httpx.Client) -> dict[str, Any]:
    """Two customers on a 49 usd monthly plan (one with 3 seats) and one on a 1,200 usd
    annual plan; usage on two days; a finalized one-off invoice already overdue."""
    now = datetime.now(UTC)
    feature = tokens_feature(fp)
    monthly = fp.plans.create_plan(name="Team", lookup_key=unique("team"))
    plan_price(
        fp,
        monthly.id,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount="49",
        invoice_cadence="ADVANCE",
    )
    annual = fp.plans.create_plan(name="Enterprise", lookup_key=unique("ent"))
    plan_price(
        fp,
        annual.id,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount="1200",
        invoice_cadence="ADVANCE",
        billing_period="ANNUAL",
    )
    people = []
    for name, plan, period in (
        ("Acme", monthly, "MONTHLY"),
        ("Birch", monthly, "MONTHLY"),
        ("Cobalt", annual, "ANNUAL"),
    ):
        customer = fp.customers.create_customer(external_id=unique(name.lower()), name=name)
        fp.subscriptions.create_subscription(
            customer_id=customer.id,
            plan_id=plan.id,
            currency="usd",
            billing_period=period,
            start_date=_z(now - timedelta(days=3)),
        )
        people.append(customer)
    event_name = feature.meter.event_name
    days = [(now - timedelta(days=2)).replace(hour=10), (now - timedelta(days=1)).replace(hour=8)]
    events = [
        {
            "event_name": event_name,
            "external_customer_id": people[i].external_id,
            "event_id": unique("ev"),
            "timestamp": _z(at),
            "properties": {"tokens": n},
        }
        for i, at, n in ((0, days[0], 5), (0, days[1], 7), (1, days[1], 30))
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    for invoice in http.get("/v1/invoices", params={"limit": 50}).json()["items"]:
        if invoice["invoice_status"] == "DRAFT":
            finalized = http.post(f"/v1/invoices/{invoice['id']}/finalize")
            assert finalized.status_code == 200, finalized.text
    late = http.post(
        "/v1/invoices",
        json={
            "customer_id": people[2].id,
            "currency": "usd",
            "amount_due": "80",
            "subtotal": "80",
            "total": "80",
            "due_date": _z(now - timedelta(days=1)),
            "line_items": [{"display_name": "Setup", "amount": "80", "quantity": "1"}],
        },
    )
    assert late.status_code == 201, late.text
    assert http.post(f"/v1/invoices/{late.json()['id']}/finalize").status_code == 200
    return {"feature": feature, "customers": people, "late": late.json()}


@contextmanager
def _signed_in(tenant: Tenant) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as client:
        csrf = login_csrf(client)
        answer = client.post("/ui/login", data={"api_key": tenant.key, "csrf": csrf})
        assert answer.status_code == 303, answer.text
        yield client


def _values(page: str, block_id: str) -> dict[str, D]:
    """currency → amount of the KPI card ``block_id``."""
    block = re.search(rf'id="{block_id}".*?</div>', page, re.S)
    assert block is not None, block_id
    return {c: D(v) for c, v in re.findall(r'data-currency="(\w+)" data-value="([^"]+)"', block[0])}


def _decimal_json(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text, parse_float=D)


def test_overview_numbers_equal_the_api(tenant: Tenant, fp: Flexprice, http: httpx.Client) -> None:
    seeded = _seed(fp, http)
    with _signed_in(tenant) as ui:
        page = ui.get("/ui/overview")
    assert page.status_code == 200, page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    html = page.text

    # MRR: two 49 usd monthly fees and a twelfth of 1,200 usd.
    assert _values(html, "mrr") == {"usd": D("198.00")}

    # Due and overdue: what the invoice list says is still owed, and the part past due.
    invoices = _decimal_json(http.get("/v1/invoices", params={"limit": 100}))["items"]
    now = datetime.now(UTC)
    owed = [i for i in invoices if i["invoice_status"] == "FINALIZED" and i["amount_remaining"]]
    assert _values(html, "due") == {"usd": sum((D(i["amount_remaining"]) for i in owed), D(0))}
    overdue = [
        i
        for i in owed
        if i.get("due_date") and datetime.fromisoformat(i["due_date"].replace("Z", "+00:00")) < now
    ]
    assert [i["id"] for i in overdue] == [seeded["late"]["id"]]
    assert _values(html, "overdue") == {"usd": D("80")}

    # Revenue by month: the revenue analytics of finalized invoices, summed by month.
    first = now.date().replace(day=1) - timedelta(days=1)
    report = _decimal_json(
        http.post(
            "/v1/analytics/revenue",
            json={"start_time": f"{first.replace(day=1)}T00:00:00Z", "granularity": "day"},
        )
    )
    by_month: dict[str, D] = defaultdict(D)
    for row in report["rows"]:
        if row["status"] == "FINAL":
            by_month[row["day"][:7]] += D(row["net_amount"])
    chart = re.search(r'class="card revenue-chart" data-currency="usd".*?</svg>', html, re.S)
    assert chart is not None
    bars = dict(re.findall(r'data-day="(\d{4}-\d{2})-01" data-value="([^"]+)"', chart[0]))
    for month, amount in by_month.items():
        assert D(bars[month].replace(",", "")) == amount
    assert sum(by_month.values(), D(0)) == D("49") * 2 + D("1200") + D("80")

    # Usage per day: usage by meter with a DAY window and no customer.
    meter_id = seeded["feature"].meter_id
    usage = _decimal_json(
        http.post(
            "/v1/events/usage/meter",
            json={
                "meter_id": meter_id,
                "start_time": _z(now - timedelta(days=29)),
                "end_time": _z(now),
                "window_size": "DAY",
            },
        )
    )
    api_days = {w["window_size"][:10]: D(w["value"]) for w in usage["results"] if w["value"]}
    chart = re.search(rf'data-meter="{meter_id}".*?</svg>', html, re.S)
    assert chart is not None
    shown = {
        day: D(v.replace(",", ""))
        for day, v in re.findall(r'data-day="([\d-]+)" data-value="([^"]+)"', chart[0])
        if v != "0"
    }
    assert shown == api_days
    assert sum(shown.values(), D(0)) == D(42)

    # Top customers: Cobalt by revenue (1,280), Birch by usage (30 against Acme's 12).
    top = re.search(r'id="top-revenue".*?</table>', html, re.S)
    assert top is not None
    ranked = re.findall(r'data-customer="([^"]+)"', top[0])
    people = seeded["customers"]
    assert ranked[0] == people[2].external_id
    usage_top = re.search(r'class="top-usage".*?</table>', html, re.S)
    assert usage_top is not None
    assert re.findall(r'data-customer="([^"]+)"', usage_top[0]) == [
        people[1].external_id,
        people[0].external_id,
    ]


def test_lists_filter_sort_and_page(tenant: Tenant, fp: Flexprice, http: httpx.Client) -> None:
    seeded = _seed(fp, http)
    with _signed_in(tenant) as ui:
        everything = ui.get("/ui/invoices").text
        assert len(re.findall(r"<tr data-invoice=", everything)) == 4
        late = ui.get("/ui/invoices", params={"status": "FINALIZED", "payment": "PENDING"}).text
        assert seeded["late"]["id"] in late
        voided = ui.get("/ui/invoices", params={"status": "VOIDED"}).text
        assert "No invoices." in voided
        by_number = ui.get("/ui/invoices", params={"q": seeded["late"]["invoice_number"] or "x"})
        assert by_number.status_code == 200
        # An unknown sort or order falls back to the default instead of reaching the search.
        odd = ui.get("/ui/invoices", params={"sort": "password", "order": "sideways"})
        assert odd.status_code == 200
        too_long = ui.get("/ui/invoices", params={"q": "x" * 300})
        assert too_long.status_code == 400

        subs = ui.get("/ui/subscriptions", params={"status": "active"}).text
        assert len(re.findall(r"<tr data-subscription=", subs)) == 3
        assert "Enterprise" in subs and "Team" in subs
        assert "No subscriptions." in ui.get("/ui/subscriptions", params={"status": "paused"}).text

        plans = ui.get("/ui/plans", params={"q": "Enter"}).text
        assert len(re.findall(r"<tr data-plan=", plans)) == 1
        assert "$1,200.00" in plans

        # Pages: 30 plans make two pages of 25, the second holding the rest.
        for i in range(28):
            fp.plans.create_plan(name=f"Bulk {i:02d}", lookup_key=unique("bulk"))
        first = ui.get("/ui/plans", params={"sort": "name", "order": "asc"}).text
        second = ui.get("/ui/plans", params={"sort": "name", "order": "asc", "page": 2}).text
        assert len(re.findall(r"<tr data-plan=", first)) == 25
        assert len(re.findall(r"<tr data-plan=", second)) == 5
        assert 'rel="next"' in first and 'rel="prev"' in second
        assert "Team" in second  # names sort Bulk…, Enterprise, Team
        # The sort and the order are read from their own parameters, not from another's.
        assert first.index("Bulk 00") < first.index("Bulk 01") < first.index("Bulk 24")
        newest = ui.get("/ui/plans", params={"sort": "name", "order": "desc"}).text
        assert newest.index("Team") < newest.index("Enterprise") < newest.index("Bulk 27")


def test_pages_need_a_session(tenant: Tenant) -> None:
    with httpx.Client(base_url=tenant.server.base_url, timeout=30) as anonymous:
        for path in ("/ui/overview", "/ui/invoices", "/ui/subscriptions", "/ui/plans"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")
def test_browser_walks_every_page(
    tenant: Tenant, fp: Flexprice, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.ui.test_dashboard import FLAGS

    _seed(fp, http)
    backend = request.node.callspec.params.get("server", "sqlite")
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(tenant.server.base_url + "/ui/login")
            page.click("text=Sign in with an API key")
            page.fill("form.api-key-sign-in input[name=api_key]", tenant.key)
            page.click("form.api-key-sign-in button[type=submit]")
            page.wait_for_url("**/ui/customers")
            page.click("header nav >> text=Overview")
            page.wait_for_url("**/ui/overview")
            assert page.locator("#mrr strong").inner_text() == "$198.00"
            page.screenshot(path=str(OUTPUT / f"dashboard-overview-{backend}.png"), full_page=True)
            for name in ("Subscriptions", "Plans", "Invoices"):
                page.click(f"header nav >> text={name}")
                page.wait_for_url(f"**/ui/{name.lower()}")
                assert page.locator("h1").inner_text() == name
                shot = OUTPUT / f"dashboard-{name.lower()}-{backend}.png"
                page.screenshot(path=str(shot), full_page=True)
            page.select_option("select[name=status]", "FINALIZED")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**status=FINALIZED**")
            assert page.locator("#invoices tr[data-invoice]").count() == 4
            # A phone-sized screen still shows the overview's figures.
            page.set_viewport_size({"width": 390, "height": 800})
            page.goto(tenant.server.base_url + "/ui/overview")
            assert page.locator("#due strong").is_visible()
            page.screenshot(path=str(OUTPUT / f"dashboard-phone-{backend}.png"), full_page=True)
        finally:
            browser.close()


def _alarm_rows(ui: httpx.Client) -> tuple[dict[str, str], str]:
    """setting id → its row, and the alerts panel, of the overview."""
    page = ui.get("/ui/overview")
    assert page.status_code == 200, page.text
    panel = re.search(r'<table id="alerts">.*?</table>', page.text, re.S)
    assert panel is not None
    rows = re.findall(r'(<tr data-setting="([^"]+)".*?</tr>)', panel[0], re.S)
    return {setting: row for row, setting in rows}, panel[0]


def _until(ui: httpx.Client, done: Any) -> dict[str, str]:
    """The overview's alarm rows once ``done(rows)`` holds (the alerts job evaluates a
    changed setting at once, in the background)."""
    deadline = datetime.now(UTC) + timedelta(seconds=15)
    while True:
        rows, _ = _alarm_rows(ui)
        if done(rows) or datetime.now(UTC) > deadline:
            return rows
        time.sleep(0.05)


def _wallet_alert(fp: Flexprice, below: str) -> tuple[Any, str, str]:
    customer = fp.customers.create_customer(external_id=unique("alarm"), name="Alarm Co")
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id, currency="usd", initial_credits_to_load="100"
    )
    setting = fp.alert_settings.create_alert_settings(
        entity_type="wallet",
        entity_id=wallet.id,
        config={
            "alert_enabled": True,
            "alert_threshold_type": "absolute",
            "critical": {"condition": "below", "threshold": below},
        },
    )
    assert setting.id is not None and wallet.id is not None
    return customer, wallet.id, setting.id


def test_overview_lists_the_alerts_in_alarm_now(tenant: Tenant, fp: Flexprice) -> None:
    other = new_tenant(tenant.server)
    with _signed_in(tenant) as ui, _signed_in(other) as other_ui:
        rows, panel = _alarm_rows(ui)
        assert rows == {} and "No alert is in alarm." in panel

        # Another environment's wallet in alarm: its own overview lists it, ours never does.
        with other.flexprice() as other_fp:
            _, _, foreign = _wallet_alert(other_fp, below="500")
        assert foreign in _until(other_ui, lambda r: foreign in r)

        # 100 credits, under a critical threshold of 200: in alarm.
        customer, wallet_id, setting_id = _wallet_alert(fp, below="200")
        rows = _until(ui, lambda r: setting_id in r)
        assert list(rows) == [setting_id]
        row = rows[setting_id]
        assert 'data-state="in_alarm"' in row and wallet_id in row
        assert f'href="/ui/customers/{customer.id}"' in row and "Alarm Co" in row
        assert "below 200" in row and 'data-value="100' in row

        # The threshold lowered under the balance: recovered, so no longer listed.
        fp.alert_settings.update_alert_settings(
            id=setting_id,
            config={
                "alert_enabled": True,
                "alert_threshold_type": "absolute",
                "critical": {"condition": "below", "threshold": "50"},
            },
        )
        rows = _until(ui, lambda r: setting_id not in r)
        assert rows == {}
        assert foreign in _alarm_rows(other_ui)[0]  # still in alarm there


def test_overview_lists_an_entitlement_alert_of_the_current_usage_window(
    tenant: Tenant, fp: Flexprice, http: httpx.Client
) -> None:
    customer = fp.customers.create_customer(external_id=unique("usage"), name="Usage Co")
    feature = tokens_feature(fp, event="alarm")
    plan = fp.plans.create_plan(name="Metered", lookup_key=unique("plan"))
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="FLAT_FEE",
        amount="0.01",
        invoice_cadence="ARREAR",
    )
    grant = http.post(
        "/v1/entitlements",
        json={
            "plan_id": plan.id,
            "feature_id": feature.id,
            "feature_type": "metered",
            "usage_limit": 100,
            "usage_reset_period": "MONTHLY",
        },
    )
    assert grant.status_code == 201, grant.text
    fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    setting = fp.alert_settings.create_alert_settings(
        entity_type="entitlement_grant",
        entity_id=grant.json()["id"],
        config={
            "alert_threshold_type": "percentage",
            "warning": {"condition": "above", "threshold": "50"},
        },
    )
    event = {
        "event_name": feature.meter.event_name,
        "external_customer_id": customer.external_id,
        "event_id": unique("e"),
        "properties": {"tokens": "60"},
    }
    assert http.post("/v1/events/bulk", json={"events": [event]}).status_code == 202
    with _signed_in(tenant) as ui:
        rows = _until(ui, lambda r: setting.id in r)
    row = rows[setting.id]
    assert 'data-state="warning"' in row and "above 50 %" in row and 'data-value="60' in row
    assert f'href="/ui/customers/{customer.id}"' in row and "Usage Co" in row
