"""Plan changes at the period's end through the SDK: stored as schedules, applied by the
billing clock exactly once at the boundary; the preview is the invoice the clock writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.db import models as _registered_models  # noqa: F401 - every table mapped
from meterline.db.engine import Database
from meterline.invoicing import clock
from meterline.kernel.money import round_money
from meterline.settings import Settings
from tests.conftest import Tenant, new_tenant, unique
from tests.subscriptions.world import D, by_reason, customer, fixed_plan, invoices_of, on

CHANGE = {
    "billing_cadence": "RECURRING",
    "billing_cycle": "anniversary",
    "billing_period": "MONTHLY",
    "proration_behavior": "create_prorations",
    "change_at": "end_of_period",
}


@pytest.fixture
def billing(tenant: Tenant) -> Iterator[Database]:
    """The server's database, for the billing clock run here at a chosen instant."""
    if tenant.server.event_store == "clickhouse":
        pytest.skip("the clock run here cannot share the server's in-process chdb store")
    db = Database.connect(Settings(database_url=tenant.server.database_url))
    yield db
    db.dispose()


def close_at(db: Database, sub: Any, now: datetime) -> int:
    return clock.close_subscriptions(db, [sub.id], now=now)


def metered_plan(fp: Any, fee: str, per_call: str, event_name: str) -> tuple[Any, Any]:
    """A plan with a monthly ADVANCE fee and a per-call ARREAR usage price: (plan, fee)."""
    plan, fee_price = fixed_plan(fp, fee)
    feature = fp.features.create_feature(
        name="Calls",
        type_="metered",
        lookup_key=unique("calls"),
        meter={
            "name": "calls",
            "event_name": event_name,
            "aggregation": {"type": "COUNT"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="FLAT_FEE",
        amount=per_call,
        invoice_cadence="ARREAR",
    )
    return plan, fee_price


def ingest(fp: Any, event_name: str, external_id: str, count: int, at: datetime) -> None:
    if count:
        fp.events.ingest_events_bulk(
            events=[
                {
                    "event_name": event_name,
                    "external_customer_id": external_id,
                    "event_id": unique("e"),
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                }
                for _ in range(count)
            ]
        )


def amounts(lines: Any) -> list[Decimal]:
    return sorted(D(line.amount) for line in lines)


def test_a_downgrade_at_period_end_bills_the_old_period_then_the_new_plan(
    fp: Any, http: httpx.Client, billing: Database
) -> None:
    event_name = unique("sched_call")
    pro, _ = metered_plan(fp, "20", "0.5", event_name)
    basic, _ = metered_plan(fp, "8", "0.25", event_name)
    buyer = customer(fp)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=pro.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
    )
    ingest(fp, event_name, buyer.external_id, 4, datetime.now(UTC) - timedelta(minutes=5))
    boundary = sub.current_period_end

    preview = fp.subscriptions.preview_subscription_change(
        id=sub.id, target_plan_id=basic.id, **CHANGE
    )
    assert preview.change_type == "downgrade" and preview.effective_date == boundary
    # The period-end invoice: pro's 4 calls × 0.5 and basic's fee for the next period.
    assert amounts(preview.next_invoice_preview.line_items) == [D("2"), D("8")]
    assert D(preview.next_invoice_preview.subtotal) == D(10)
    assert D(preview.proration_details.net_amount) == 0
    assert fp.subscriptions.list_subscription_schedules(id=sub.id).count == 0  # rolled back

    done = fp.subscriptions.execute_subscription_change(
        id=sub.id, target_plan_id=basic.id, metadata={"why": "down"}, **CHANGE
    )
    assert done.is_scheduled is True and done.invoice is None
    assert done.scheduled_at == boundary and done.schedule_id.startswith("sched_")
    assert done.new_subscription.plan_id == basic.id
    staged = fp.subscriptions.get_subscription(id=sub.id)
    assert staged.plan_id == pro.id  # until the boundary
    assert sorted((i.entity_id == pro.id, i.start_date, i.end_date) for i in staged.line_items) == [
        (False, boundary, None),
        (False, boundary, None),
        (True, sub.start_date, boundary),
        (True, sub.start_date, boundary),
    ]
    listed = fp.subscriptions.list_subscription_schedules(id=sub.id)
    [schedule] = listed.schedules
    assert listed.count == 1 and schedule.id == done.schedule_id
    assert (schedule.status, schedule.schedule_type, schedule.scheduled_at) == (
        "pending",
        "plan_change",
        boundary,
    )
    assert schedule.can_be_cancelled is True and schedule.days_until_execution >= 1
    assert schedule.configuration_details.plan_change.target_plan_id == basic.id
    assert schedule.metadata == {"why": "down"}
    # One change at a time: another change is refused while this one is pending.
    refused = http.post(
        f"/v1/subscriptions/{sub.id}/change/execute",
        json={**CHANGE, "target_plan_id": basic.id, "change_at": "immediate"},
    )
    assert refused.status_code == 409 and done.schedule_id in refused.text

    assert close_at(billing, sub, boundary - timedelta(minutes=1)) == 0  # not yet
    assert close_at(billing, sub, boundary + timedelta(hours=2)) == 1
    cycle = by_reason(fp, sub.id, "SUBSCRIPTION_CYCLE")
    assert D(cycle.subtotal) == D(10)
    assert amounts(cycle.line_items) == amounts(preview.next_invoice_preview.line_items)
    moved = fp.subscriptions.get_subscription(id=sub.id)
    assert moved.plan_id == basic.id and moved.current_period_start == boundary
    executed = fp.subscriptions.get_subscription_schedule(schedule_id=done.schedule_id)
    assert executed.status == "executed" and executed.can_be_cancelled is False
    assert executed.execution_details.plan_change.to_plan_id == basic.id
    assert executed.execution_details.plan_change.from_plan_id == pro.id
    assert fp.subscriptions.list_subscription_schedules(id=sub.id).count == 0

    # Exactly once: another run at the same instant changes nothing.
    assert close_at(billing, sub, boundary + timedelta(hours=2)) == 0
    assert [i.billing_reason for i in invoices_of(fp, sub.id)] == [
        "SUBSCRIPTION_CREATE",
        "SUBSCRIPTION_CYCLE",
    ]
    assert len(fp.subscriptions.get_subscription(id=sub.id).line_items) == 4
    # The next period is the new plan's alone.
    upcoming = fp.invoices.get_invoice_preview(subscription_id=sub.id)
    assert sorted((line.entity_id, D(line.amount)) for line in upcoming.line_items) == [
        (basic.id, D(0)),
        (basic.id, D(8)),
    ]


def test_an_upgrade_at_period_end_with_v2_and_a_superseded_schedule(
    fp: Any, http: httpx.Client, billing: Database
) -> None:
    basic, seat = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "30")
    team, _ = fixed_plan(fp, "45")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=basic.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
        override_line_items=[{"price_id": seat.id, "quantity": "2"}],
    )
    boundary = sub.current_period_end
    body = {"proration_behavior": "none", "change_at": "end_of_period"}
    preview = fp.subscriptions.preview_subscription_plan_change_v2(
        id=sub.id, target_plan_id=team.id, **body
    )
    assert preview.is_scheduled is True and preview.schedule_id is None
    first = fp.subscriptions.execute_subscription_plan_change_v2(
        id=sub.id, target_plan_id=team.id, **body
    )
    assert first.is_scheduled is True and first.change_type == "upgrade"
    assert first.effective_at == boundary and first.changed_resources.invoices == []
    actions = sorted(i.change_action for i in first.changed_resources.line_items)
    assert actions == ["created", "ended"]
    again = http.post(
        f"/v1/subscriptions/{sub.id}/change/v2/execute",
        json={"target_plan_id": pro.id, **body},
    )
    assert again.status_code == 409, again.text
    second = fp.subscriptions.execute_subscription_plan_change_v2(
        id=sub.id,
        target_plan_id=pro.id,
        on_conflict_policies={"on_pending_schedule": "supersede"},
        **body,
    )
    assert second.superseded_schedules == [first.schedule_id]
    superseded = fp.subscriptions.get_subscription_schedule(schedule_id=first.schedule_id)
    assert superseded.status == "cancelled"
    live = fp.subscriptions.get_subscription(id=sub.id).line_items
    # The seats carry over to the new plan; the superseded change left nothing behind.
    assert {(i.entity_id, i.quantity) for i in live} == {(basic.id, "2"), (pro.id, "2")}
    assert len(live) == 2

    assert close_at(billing, sub, boundary + timedelta(hours=2)) == 1
    cycle = by_reason(fp, sub.id, "SUBSCRIPTION_CYCLE")
    assert [(line.entity_id, D(line.amount)) for line in cycle.line_items] == [(pro.id, D(60))]
    assert fp.subscriptions.get_subscription(id=sub.id).plan_id == pro.id
    assert (
        fp.subscriptions.get_subscription_schedule(schedule_id=second.schedule_id).status
        == "executed"
    )


def test_a_schedule_cancelled_before_the_boundary_changes_nothing(
    fp: Any, http: httpx.Client, billing: Database
) -> None:
    basic, _ = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "30")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=basic.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=on(0, 1),
    )
    before = sorted((i.id, i.end_date) for i in sub.line_items)
    done = fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=pro.id, **CHANGE)
    cancelled = fp.subscriptions.cancel_subscription_schedule(schedule_id_param=done.schedule_id)
    assert cancelled.status == "cancelled"
    found = fp.subscriptions.get_subscription_schedule(schedule_id=done.schedule_id)
    assert found.status == "cancelled" and found.can_be_cancelled is False
    again = http.post(f"/v1/subscriptions/schedules/{done.schedule_id}/cancel")
    assert again.status_code == 409, again.text
    after = fp.subscriptions.get_subscription(id=sub.id)
    assert sorted((i.id, i.end_date) for i in after.line_items) == before
    # The body may restate the subscription and the type; a mismatch is refused.
    second = fp.subscriptions.execute_subscription_change(
        id=sub.id, target_plan_id=pro.id, **CHANGE
    )
    mismatch = http.post(
        f"/v1/subscriptions/schedules/{second.schedule_id}/cancel",
        json={"subscription_id": "subs_other", "schedule_type": "plan_change"},
    )
    assert mismatch.status_code == 400 and mismatch.json()["details"]["field"] == "subscription_id"
    by_body = http.post(
        f"/v1/subscriptions/schedules/{second.schedule_id}/cancel",
        json={"subscription_id": sub.id, "schedule_type": "plan_change"},
    )
    assert by_body.status_code == 200, by_body.text

    assert close_at(billing, sub, sub.current_period_end + timedelta(hours=2)) == 1
    cycle = by_reason(fp, sub.id, "SUBSCRIPTION_CYCLE")
    assert [(line.entity_id, D(line.amount)) for line in cycle.line_items] == [(basic.id, D(10))]
    assert fp.subscriptions.get_subscription(id=sub.id).plan_id == basic.id
    everything = fp.subscriptions.list_all_subscription_schedules(subscription_id=sub.id)
    assert [s.status for s in everything.schedules] == ["cancelled", "cancelled"]


def test_bad_schedule_requests_are_refused(fp: Any, http: httpx.Client, tenant: Tenant) -> None:
    basic, _ = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "30")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id,
        plan_id=basic.id,
        currency="usd",
        billing_period="MONTHLY",
        end_date=datetime.now(UTC) + timedelta(days=3),
    )
    ending = http.post(
        f"/v1/subscriptions/{sub.id}/change/execute", json={**CHANGE, "target_plan_id": pro.id}
    )
    assert ending.status_code == 400 and ending.json()["code"] == "invalid_operation"
    for path, status in (
        ("/v1/subscriptions/schedules/sched_missing", 404),
        ("/v1/subscriptions/schedules?schedule_status=later", 400),
        ("/v1/subscriptions/schedules?schedule_type=pause", 400),
        ("/v1/subscriptions/schedules?limit=0", 400),
        ("/v1/subscriptions/subs_missing/schedules", 404),
    ):
        assert http.get(path).status_code == status, path
    policy = http.post(
        f"/v1/subscriptions/{sub.id}/change/v2/preview",
        json={
            "target_plan_id": pro.id,
            "proration_behavior": "none",
            "on_conflict_policies": {"on_pending_schedule": "merge"},
        },
    )
    assert policy.status_code == 400, policy.text
    assert policy.json()["details"]["field"] == "on_conflict_policies.on_pending_schedule"


@pytest.fixture
def tenants_schedule(fp: Any) -> str:
    basic, _ = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "30")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id, plan_id=basic.id, currency="usd", billing_period="MONTHLY"
    )
    done = fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=pro.id, **CHANGE)
    return str(done.schedule_id)


def test_another_tenant_cannot_read_or_cancel_a_schedule(
    tenants_schedule: str, tenant: Tenant
) -> None:
    stranger = new_tenant(tenant.server)
    with stranger.client() as http:
        assert http.get(f"/v1/subscriptions/schedules/{tenants_schedule}").status_code == 404
        cancel = http.post(f"/v1/subscriptions/schedules/{tenants_schedule}/cancel")
        assert cancel.status_code == 404
        assert http.get("/v1/subscriptions/schedules").json()["count"] == 0


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old_fee=st.integers(0, 5000),
    new_fee=st.integers(0, 5000),
    old_rate=st.integers(1, 300),
    calls=st.integers(0, 12),
    started_days_ago=st.integers(0, 25),
    seats=st.integers(1, 5),
)
def test_the_preview_of_an_end_of_period_change_is_the_invoice_the_clock_writes(
    fp: Any,
    billing: Database,
    old_fee: int,
    new_fee: int,
    old_rate: int,
    calls: int,
    started_days_ago: int,
    seats: int,
) -> None:
    event_name = unique("prop_call")
    old, fee = metered_plan(fp, str(D(old_fee) / 100), str(D(old_rate) / 1000), event_name)
    new, _ = fixed_plan(fp, str(D(new_fee) / 100))
    buyer = customer(fp)
    start = (datetime.now(UTC) - timedelta(days=started_days_ago, hours=1)).replace(microsecond=0)
    sub = fp.subscriptions.create_subscription(
        customer_id=buyer.id,
        plan_id=old.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=start,
        override_line_items=[{"price_id": fee.id, "quantity": str(seats)}],
    )
    ingest(fp, event_name, buyer.external_id, calls, datetime.now(UTC) - timedelta(minutes=2))
    preview = fp.subscriptions.preview_subscription_change(
        id=sub.id, target_plan_id=new.id, **CHANGE
    )
    done = fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=new.id, **CHANGE)
    assert done.is_scheduled and preview.change_type == done.change_type
    boundary = fp.subscriptions.get_subscription(id=sub.id).current_period_end
    assert close_at(billing, sub, boundary + timedelta(hours=2)) == 1
    cycle = by_reason(fp, sub.id, "SUBSCRIPTION_CYCLE")
    assert cycle.subtotal == preview.next_invoice_preview.subtotal
    assert amounts(cycle.line_items) == amounts(preview.next_invoice_preview.line_items)
    # The old plan's calls, rounded once, and the new plan's fee for the carried seats.
    usage = round_money(D(calls) * D(old_rate) / 1000, 2)
    assert D(cycle.subtotal) == usage + D(new_fee) * seats / 100


def test_a_pending_change_blocks_a_pause_and_an_immediate_cancel_cancels_it(
    fp: Any, http: httpx.Client
) -> None:
    basic, _ = fixed_plan(fp, "10")
    pro, _ = fixed_plan(fp, "30")
    sub = fp.subscriptions.create_subscription(
        customer_id=customer(fp).id, plan_id=basic.id, currency="usd", billing_period="MONTHLY"
    )
    done = fp.subscriptions.execute_subscription_change(id=sub.id, target_plan_id=pro.id, **CHANGE)
    paused = http.post(f"/v1/subscriptions/{sub.id}/pause", json={})
    assert paused.status_code == 400 and "cancel the schedule" in paused.text
    assert fp.subscriptions.get_subscription(id=sub.id).subscription_status == "active"
    fp.subscriptions.cancel_subscription(id=sub.id, cancellation_type="immediate")
    found = fp.subscriptions.get_subscription_schedule(schedule_id=done.schedule_id)
    assert found.status == "cancelled" and found.error_message == "the subscription was cancelled"
