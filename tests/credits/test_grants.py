"""Credit grants through the SDK, applied by the grants job run in-process at chosen times:
exact credits per period, expiry, priority in the consumption order, exactly once across
runs (and two racing runs), and bad input refused with nothing written."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors

from meterline.credits import apply
from meterline.db.engine import Database
from meterline.kernel.calendar import add_months
from tests.credits.conftest import plan_with_fee, subscribe

SDK_ERRORS = (errors.ErrorResponse, errors.FlexpriceDefaultError)


def credits_of(http: httpx.Client, customer_id: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The customer's usd wallet balance and ledger (oldest first) as wire text."""
    wallets = http.get(f"/v1/customers/{customer_id}/wallets").json()
    assert len(wallets) == 1
    ledger = http.get(
        f"/v1/wallets/{wallets[0]['id']}/transactions", params={"order": "asc"}
    ).json()["items"]
    return wallets[0]["credit_balance"], [
        (t["type"], t["transaction_reason"], t["credit_amount"]) for t in ledger
    ]


def test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle(
    fp: Flexprice, http: httpx.Client, server_db: Database
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = add_months(now, -2) - timedelta(days=3)
    plan = plan_with_fee(fp)
    grant = fp.credit_grants.create_credit_grant(
        name="Monthly allowance",
        scope="PLAN",
        plan_id=plan.id,
        credits="50",
        cadence="RECURRING",
        period="MONTHLY",
        period_count=1,
        expiration_type="BILLING_CYCLE",
        priority=1,
        metadata={"tier": "pro"},
    )
    assert grant.id.startswith("cg_")
    assert (grant.credits, grant.cadence, grant.period, grant.priority) == (
        "50",
        "RECURRING",
        "MONTHLY",
        1,
    )
    customer, sub = subscribe(fp, plan, start)
    pending = fp.subscriptions.get_subscription_upcoming_grants(id=sub.id).items or []
    assert [(u.credit_grant_id, u.period_start, u.application_reason) for u in pending] == [
        (grant.id, start, "first_time_recurring_credit_grant")
    ]

    first = apply.run_once(server_db, now)
    assert first.applied >= 3  # other tests' grants may be due too
    balance, ledger = credits_of(http, customer.id)
    # Three monthly periods have started; the two ended ones expired with their cycle.
    assert balance == "50"
    assert ledger == [
        ("credit", "SUBSCRIPTION_CREDIT_GRANT", "50"),
        ("debit", "CREDIT_EXPIRED", "50"),
        ("credit", "SUBSCRIPTION_CREDIT_GRANT", "50"),
        ("debit", "CREDIT_EXPIRED", "50"),
        ("credit", "SUBSCRIPTION_CREDIT_GRANT", "50"),
    ]
    # Next: the fourth month, to come.
    pending = fp.customers.get_customer_upcoming_grants(id=customer.id).items or []
    assert [(u.period_start, u.credits, u.application_status) for u in pending] == [
        (add_months(start, 3), "50", "pending")
    ]
    # The same instant again: nothing twice.
    apply.run_once(server_db, now)
    assert credits_of(http, customer.id)[0] == "50"
    # A month later one more period is due, and two runs race for it: its 50 are added
    # once, the previous 50 expire.
    later = add_months(start, 3) + timedelta(minutes=1)
    racers = [threading.Thread(target=apply.run_once, args=(server_db, later)) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    balance, ledger = credits_of(http, customer.id)
    assert (balance, len(ledger)) == ("50", 7)
    assert ledger[-2:] == [
        ("debit", "CREDIT_EXPIRED", "50"),
        ("credit", "SUBSCRIPTION_CREDIT_GRANT", "50"),
    ]
    listed = fp.credit_grants.get_plan_credit_grants(id=plan.id)
    assert [g.id for g in listed.items] == [grant.id]
    assert [g.id for g in fp.plans.get_plan(id=plan.id).credit_grants or []] == [grant.id]
    # Deleted: nothing more is applied; what was applied stays.
    fp.credit_grants.delete_credit_grant(id=grant.id)
    with pytest.raises(SDK_ERRORS):
        fp.credit_grants.get_credit_grant(id=grant.id)
    apply.run_once(server_db, add_months(start, 5))
    assert credits_of(http, customer.id) == (balance, ledger)


def test_a_subscription_grant_once_with_a_duration_and_its_priority(
    fp: Flexprice, http: httpx.Client, server_db: Database
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    plan = plan_with_fee(fp)
    customer, sub = subscribe(fp, plan, now - timedelta(days=1))
    later = fp.credit_grants.create_credit_grant(
        name="Launch bonus",
        scope="SUBSCRIPTION",
        subscription_id=sub.id,
        credits="20.5",
        cadence="ONETIME",
        expiration_type="DURATION",
        expiration_duration=10,
        expiration_duration_unit="DAY",
        priority=0,
        start_date=now + timedelta(days=2),
        end_date=now + timedelta(days=30),
    )
    assert (later.plan_id, later.subscription_id, later.scope) == (plan.id, sub.id, "SUBSCRIPTION")
    for scope, reference in (("PLAN", {"plan_id": "plan_missing"}), ("SUBSCRIPTION", {})):
        body = {"name": "G", "scope": scope, "credits": "1", "cadence": "ONETIME", **reference}
        refused = http.post("/v1/creditgrants", json=body)
        assert refused.status_code == (404 if reference else 400), refused.text
    apply.run_once(server_db, now)
    assert http.get(f"/v1/customers/{customer.id}/wallets").json() == []  # not started yet
    pending = fp.subscriptions.get_subscription_upcoming_grants(id=sub.id).items or []
    assert [(u.period_start, u.application_reason) for u in pending] == [
        (now + timedelta(days=2), "onetime_credit_grant")
    ]
    apply.run_once(server_db, now + timedelta(days=3))
    apply.run_once(server_db, now + timedelta(days=4))
    balance, ledger = credits_of(http, customer.id)
    assert (balance, ledger) == ("20.5", [("credit", "SUBSCRIPTION_CREDIT_GRANT", "20.5")])
    assert fp.subscriptions.get_subscription_upcoming_grants(id=sub.id).items == []
    wallet_id = http.get(f"/v1/customers/{customer.id}/wallets").json()[0]["id"]
    entry = http.get(f"/v1/wallets/{wallet_id}/transactions").json()["items"][0]
    assert entry["priority"] == 0
    assert entry["expiry_date"].startswith((now + timedelta(days=12)).date().isoformat())
    # A plain top-up has no priority: the grant's credits are spent first.
    fp.wallets.top_up_wallet(
        id=wallet_id, credits_to_add="100", transaction_reason="FREE_CREDIT_GRANT"
    )
    invoice = fp.invoices.create_invoice(
        customer_id=customer.id, currency="usd", amount_due="30", subtotal="30", total="30"
    )
    fp.invoices.finalize_invoice(id=invoice.id)
    left = [
        t["credits_available"]
        for t in http.get(
            f"/v1/wallets/{wallet_id}/transactions", params={"type": "credit"}
        ).json()["items"]
    ]
    assert left == ["90.5", "0"]  # newest first: the top-up paid 9.5 after the grant's 20.5

    updated = fp.credit_grants.update_credit_grant(
        id=later.id, name="Renamed", metadata={"k": "v"}, end_date=now + timedelta(days=60)
    )
    assert (updated.name, updated.metadata) == ("Renamed", {"k": "v"})
    assert fp.credit_grants.get_credit_grant(id=later.id).end_date == now + timedelta(days=60)
    # Deleted with an effective date (subscription scope): the grant ends then.
    fp.credit_grants.delete_credit_grant(id=later.id, effective_date=now + timedelta(days=5))
    assert fp.credit_grants.get_credit_grant(id=later.id).end_date == now + timedelta(days=5)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credits": "0"}, "credits"),
        ({"credits": "-5"}, "credits"),
        ({"end_date": "2030-01-01T00:00:00Z", "start_date": "2030-02-01T00:00:00Z"}, "end_date"),
        ({"cadence": "RECURRING"}, "period"),
        ({"scope": "ADDON"}, "addon_id"),  # an ADDON grant names its add-on
        ({"expiration_type": "DURATION"}, "expiration_duration"),
        ({"expiration_duration": 3}, "expiration_duration"),
        ({"period_count": 13}, "period_count"),
        (
            {
                "expiration_type": "DURATION",
                "expiration_duration": 11,
                "expiration_duration_unit": "YEAR",
            },
            "expiration_duration",
        ),
        ({"plan_id": None}, "plan_id"),
    ],
)
def test_bad_grants_are_400_and_nothing_is_written(
    http: httpx.Client, fp: Flexprice, change: dict[str, Any], field: str
) -> None:
    plan = plan_with_fee(fp)
    body = {"name": "G", "scope": "PLAN", "plan_id": plan.id, "credits": "5", "cadence": "ONETIME"}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    response = http.post("/v1/creditgrants", json=body)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert http.get(f"/v1/plans/{plan.id}/creditgrants").json()["items"] == []
