"""An invoice a customer can check by hand: the PDF of a billed period with SLAB, VOLUME,
PACKAGE and per-unit FLAT_FEE prices, and usage included by a free tier, shows one line per
tier (and per package), and every line's arithmetic, read back from the PDF's text,
holds: ``quantity × unit price = amount`` for each tier and fee, the tiers of a line add up
to its amount (rounded once, half away from zero), the lines to the subtotal. No internal id
or status is printed. And the tier lines always add up to what the charge model bills."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from meterline.invoicing.pdf import tier_lines
from meterline.pricing.charge_models import model_of, price_amount
from meterline.pricing.charge_models.base import StoredPricing
from meterline.pricing.charge_models.tiers import Tiered
from tests.cli.test_operator import cli
from tests.conftest import Tenant, unique

SLAB = [
    {"up_to": 1000, "unit_amount": "0.01"},
    {"up_to": 5000, "unit_amount": "0.00105", "flat_amount": "2"},
    {"up_to": None, "unit_amount": "0.0005"},
]
VOLUME = [
    {"up_to": 10, "unit_amount": "5"},
    {"up_to": None, "unit_amount": "0.004", "flat_amount": "1.5"},
]
# Included usage: the first 5,000 units at no price, then $0.002 a unit.
INCLUDED = [
    {"up_to": 5000, "unit_amount": "0"},
    {"up_to": None, "unit_amount": "0.002"},
]
CENT = Decimal("0.01")


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False),
    mode=st.sampled_from(["SLAB", "VOLUME"]),
)
def test_tier_lines_add_up_to_what_the_model_bills(quantity: Decimal, mode: str) -> None:
    model = model_of(
        StoredPricing("TIERED", tier_mode=mode, tiers=SLAB if mode == "SLAB" else VOLUME)
    )
    assert isinstance(model, Tiered)
    lines = tier_lines(model, quantity)
    assert sum((line.amount for line in lines), Decimal(0)) == price_amount(model, quantity)
    assert sum((line.quantity for line in lines), Decimal(0)) == quantity
    assert len(lines) <= (len(model.tiers) if mode == "SLAB" else 1)


def _money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def _seed(http: httpx.Client) -> tuple[dict[str, str], str]:
    """A subscription whose first month ended ten days ago, with 6,789.5 units in it priced
    SLAB and VOLUME, and a $49 fee in advance; the ids of its customer and prices."""
    now = datetime.now(UTC)
    customer = http.post("/v1/customers", json={"external_id": unique("t"), "name": "Tiers"})
    event_name = unique("units")
    feature = http.post(
        "/v1/features",
        json={
            "name": "Units",
            "type": "metered",
            "lookup_key": unique("units"),
            "meter": {
                "name": "units",
                "event_name": event_name,
                "aggregation": {"type": "SUM", "field": "n"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    plan = http.post("/v1/plans", json={"name": "Growth"}).json()
    common = {
        "entity_type": "PLAN",
        "entity_id": plan["id"],
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_period": "MONTHLY",
    }
    ids = {}
    for name, price in {
        "fee": {"type": "FIXED", "billing_model": "FLAT_FEE", "amount": "49"},
        "slab": {"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": SLAB},
        "volume": {"billing_model": "TIERED", "tier_mode": "VOLUME", "tiers": VOLUME},
        "included": {"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": INCLUDED},
        "package": {
            "billing_model": "PACKAGE",
            "amount": "5",
            "transform_quantity": {"divide_by": 1000, "round": "up"},
        },
        "flat": {"billing_model": "FLAT_FEE", "amount": "0.0031"},
    }.items():
        usage = {"type": "USAGE", "meter_id": feature["meter_id"], "invoice_cadence": "ARREAR"}
        body = {**common, **(usage if name != "fee" else {"invoice_cadence": "ADVANCE"}), **price}
        created = http.post("/v1/prices", json=body)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    start = now - timedelta(days=41)
    sub = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer.json()["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
            "start_date": start.isoformat().replace("+00:00", "Z"),
        },
    )
    assert sub.status_code == 201, sub.text
    events = [
        {
            "event_name": event_name,
            "external_customer_id": customer.json()["external_id"],
            "event_id": unique("e"),
            "timestamp": (start + timedelta(days=3, hours=i)).isoformat().replace("+00:00", "Z"),
            "properties": {"n": n},
        }
        for i, n in enumerate(["4000", "2500.25", "289.25"])
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    return ids, customer.json()["id"]


def test_tiered_invoice_pdf_adds_up_line_by_line(tenant: Tenant, http: httpx.Client) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("the CLI clock cannot share the in-process chdb store with the server")
    ids, customer_id = _seed(http)
    billed = cli(tenant.server.database_url, "bill")
    assert billed.returncode == 0, billed.stderr
    listed = http.get("/v1/invoices", params={"customer_id": customer_id}).json()["items"]
    [invoice] = [
        i
        for i in (http.get(f"/v1/invoices/{i['id']}").json() for i in listed)
        if any(line.get("price_id") == ids["slab"] for line in i.get("line_items") or [])
    ]
    response = http.get(f"/v1/invoices/{invoice['id']}/pdf")
    assert response.status_code == 200, response.text
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)

    assert not re.search(r"\b(inv|cust|sub|price|plan|meter|feat|env)_[0-9A-Za-z]", text), text
    assert "Status" not in text and customer_id not in text
    rows = text.split("Description Quantity Unit price Amount", 1)[1].split("\nSubtotal", 1)
    subtotal = _money(rows[1].split()[0])
    lines: list[tuple[Decimal, list[Decimal]]] = []
    for row in rows[0].strip().splitlines():
        tokens = row.split()
        if re.fullmatch(r"\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d", row.strip()):
            continue  # the line's period
        quantity, unit, amount = tokens[-3], tokens[-2], _money(tokens[-1])
        if re.match(r"\s+(Tier \d+|[\d,]+ packages of)", row):
            # quantity × unit price = amount, exactly: nothing rounded within a tier.
            assert Decimal(quantity.replace(",", "")) * _money(unit) == amount, row
            lines[-1][1].append(amount)
        else:
            if unit not in ("tiered", "packaged"):
                rounded = (Decimal(quantity.replace(",", "")) * _money(unit)).quantize(CENT)
                assert rounded == amount, row
            lines.append((amount, []))
    tiered = [(amount, parts) for amount, parts in lines if parts]
    # SLAB: three tiers and the second's flat fee; VOLUME: one tier and its flat fee;
    # included: the free tier and the one above it; PACKAGE: 7 packages of 1,000.
    assert sorted(len(parts) for _, parts in tiered) == [1, 2, 2, 4], text
    for amount, parts in tiered:
        assert sum(parts, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP) == amount, text
    assert {amount for amount, _ in tiered} == {
        Decimal("17.09"),
        Decimal("28.66"),
        Decimal("3.58"),  # (6,789.5 - 5,000) x $0.002, the first 5,000 included
        Decimal("35.00"),  # ceil(6,789.5 / 1,000) = 7 packages x $5
    }, text
    assert "Tier 1: 1 to 5,000 5,000 $0" in text  # the included usage, shown
    assert "7 packages of 1,000 7 $5" in text
    # FLAT_FEE per unit: 6,789.5 x $0.0031 = $21.04745, rounded once to $21.05.
    assert "6,789.5 $0.0031 $21.05" in text
    assert sum((amount for amount, _ in lines), Decimal(0)) == subtotal, text
    assert subtotal == _money(invoice["subtotal"])


def test_a_bucketed_line_shows_no_tiers_of_its_whole_quantity(
    tenant: Tenant, http: httpx.Client
) -> None:
    """A bucketed meter's line is priced bucket by bucket (hour 1 peaks at 9, hour 2 at 15:
    SLAB $0.90 + $1.25 = $2.15), not over its 24 units ($1.58): the PDF must not print tier
    rows of the whole quantity under it, which would not add up to the line."""
    from tests.invoicing.test_bucketed import HOURLY_PEAKS, TIERS, bucketed_plan, subscribe_and_send

    if tenant.server.event_store == "clickhouse":
        pytest.skip("the CLI clock cannot share the in-process chdb store with the server")
    plan_id, feature = bucketed_plan(
        http,
        {"type": "MAX", "field": "v", "bucket_size": "HOUR"},
        [{"billing_model": "TIERED", "tier_mode": "SLAB", "tiers": TIERS}],
    )
    sub_id = subscribe_and_send(http, plan_id, feature["meter"]["event_name"], HOURLY_PEAKS)
    billed = cli(tenant.server.database_url, "bill")
    assert billed.returncode == 0, billed.stderr
    listed = http.get("/v1/invoices", params={"subscription_id": sub_id, "limit": 50}).json()
    [invoice] = [
        i
        for i in (http.get(f"/v1/invoices/{i['id']}").json() for i in listed["items"])
        if any(line.get("amount") == "2.15" for line in i.get("line_items") or [])
    ]
    response = http.get(f"/v1/invoices/{invoice['id']}/pdf")
    assert response.status_code == 200, response.text
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    [line] = [row for row in text.splitlines() if row.startswith("seats ")]
    quantity, unit, amount = line.split()[-3:]
    assert (quantity, amount) == ("24", "$2.15"), line
    # No tier rows: the line's own unit price, what $2.15 works out to per unit.
    assert "Tier " not in text, text
    rounded = (Decimal(quantity) * _money(unit)).quantize(CENT, rounding=ROUND_HALF_UP)
    assert rounded == _money(amount), line
