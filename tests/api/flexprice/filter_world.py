"""The rows tests/api/flexprice/test_filters*.py search: two customers, A and B, with plans,
prices, subscriptions, invoices, wallets, ledger entries, features, entitlements, events,
coupons, tax rates and their associations each filter tells apart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flexprice import Flexprice

import meterline.db.models  # noqa: F401 - every table mapped, as in the server (the export job)
from meterline.db.engine import Database
from meterline.exports.job import ExportJob
from meterline.settings import Settings
from tests.conftest import Server, new_tenant, unique

AN_HOUR = timedelta(hours=1)


@dataclass
class World:
    """Rows of two customers, A and B, that each filter below tells apart."""

    fp: Flexprice
    ids: dict[str, str] = field(default_factory=dict)
    before: datetime = field(default_factory=lambda: datetime.now(UTC) - AN_HOUR)
    middle: datetime = field(default_factory=lambda: datetime.now(UTC))
    after: datetime = field(default_factory=lambda: datetime.now(UTC) + AN_HOUR)
    tenant: Any = None


def _plan_with_price(fp: Flexprice, name: str, period: str, amount: str, meta: dict) -> tuple:
    plan = fp.plans.create_plan(name=name, lookup_key=unique(name), metadata=meta)
    price = fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        price_unit_type="FIAT",
        currency="usd",
        billing_period=period,
        billing_period_count=1,
        type_="FIXED",
        billing_model="FLAT_FEE",
        amount=amount,
        invoice_cadence="ADVANCE",
    )
    return plan, price


def seed_world(server: Server) -> Iterator[World]:
    """A fresh environment of ``server`` holding the rows, for a module-scoped fixture."""
    tenant = new_tenant(server)
    with tenant.flexprice() as fp, tenant.client() as http:
        w = World(fp=fp, tenant=tenant)
        ids = w.ids
        a = fp.customers.create_customer(
            external_id=unique("a"), name="A", email="a@example.com", metadata={"tier": "gold"}
        )
        b = fp.customers.create_customer(
            external_id=unique("b"), name="B", email="b@example.com", metadata={"tier": "silver"}
        )
        ids |= {"cust_a": a.id, "cust_b": b.id, "ext_a": a.external_id, "ext_b": b.external_id}
        plan_a, price_a = _plan_with_price(fp, "pa", "MONTHLY", "10", {"line": "one"})
        plan_b, price_b = _plan_with_price(fp, "pb", "ANNUAL", "100", {"line": "two"})
        ids |= {"plan_a": plan_a.id, "plan_b": plan_b.id}
        ids |= {"price_a": price_a.id, "price_b": price_b.id}
        sub_a = fp.subscriptions.create_subscription(
            customer_id=a.id, plan_id=plan_a.id, currency="usd", billing_period="MONTHLY"
        )
        sub_b = fp.subscriptions.create_subscription(
            customer_id=b.id, plan_id=plan_b.id, currency="usd", billing_period="ANNUAL"
        )
        ids |= {"sub_a": sub_a.id, "sub_b": sub_b.id}
        for name, sub in (("a", sub_a), ("b", sub_b)):
            found = fp.invoices.query_invoice(subscription_id=sub.id).items
            assert len(found) == 1, f"one opening invoice of subscription {name}"
            ids[f"sub_inv_{name}"] = found[0].id
        one_a = fp.invoices.create_invoice(
            customer_id=a.id, currency="usd", amount_due="250", subtotal="250", total="250"
        )
        one_b = fp.invoices.create_invoice(
            customer_id=b.id, currency="eur", amount_due="2.5", subtotal="2.5", total="2.5"
        )
        ids |= {"one_a": one_a.id, "one_b": one_b.id}
        fp.invoices.finalize_invoice(id=one_a.id)
        voided = fp.invoices.create_invoice(
            customer_id=b.id, currency="usd", amount_due="7", subtotal="7", total="7"
        )
        fp.invoices.void_invoice(id=voided.id)
        ids["voided_b"] = voided.id
        wallet_a = fp.wallets.create_wallet(customer_id=a.id, currency="usd")
        wallet_b = fp.wallets.create_wallet(customer_id=b.id, currency="usd")
        ids |= {"wallet_a": wallet_a.id, "wallet_b": wallet_b.id}
        fp.wallets.terminate_wallet(id=wallet_b.id)
        # Alert settings on both wallets: A's enabled with a parent, B's disabled.
        for key, wallet_id, extra in (
            (
                "alert_a",
                wallet_a.id,
                {"parent_entity_type": "subscription", "parent_entity_id": "subs_parent_a"},
            ),
            ("alert_b", wallet_b.id, {}),
        ):
            alert = fp.alert_settings.create_alert_settings(
                entity_type="wallet",
                entity_id=wallet_id,
                config={
                    "alert_enabled": key == "alert_a",
                    "critical": {"condition": "below", "threshold": "1"},
                },
                **extra,
            )
            ids[key] = alert.id
        for amount, extra in (
            ("5", {"transaction_reason": "FREE_CREDIT_GRANT", "priority": 1}),
            ("20", {"transaction_reason": "PURCHASED_CREDIT_DIRECT", "priority": 2}),
            (
                "3",
                {
                    "transaction_reason": "FREE_CREDIT_GRANT",
                    "expiry_date_utc": (w.after + timedelta(days=30)).isoformat(),
                },
            ),
        ):
            response = http.post(
                f"/v1/wallets/{wallet_a.id}/top-up",
                json={"amount": amount, "idempotency_key": unique("t"), **extra},
            )
            assert response.status_code == 200, response.text
        ledger = fp.wallets.get_wallet_transactions(id_path_parameter=wallet_a.id).items
        _units_rates_and_groups(w)
        _addons(w)
        by_amount = {t.amount: t.id for t in ledger}
        ids |= {"tx_5": by_amount["5"], "tx_20": by_amount["20"], "tx_3": by_amount["3"]}
        _features_and_events(w)
        _costsheets(w)
        _payments_and_refunds(w)
        _alert_log(w)
        _coupons_and_taxes(w)
        _schedules_and_line_items(w)
        _tasks_schedules_and_activity(w)
        w.middle = datetime.now(UTC)
        yield w


def _alert_log(w: World) -> None:
    """Customer C's wallet crosses its alert threshold (10 → 2, under 5) and recovers
    (→ 12): two rows of the alert log, ``alog_alarm`` and ``alog_ok``."""
    fp, ids = w.fp, w.ids
    c = fp.customers.create_customer(external_id=unique("c"), name="C")
    wallet = fp.wallets.create_wallet(
        customer_id=c.id, currency="usd", initial_credits_to_load="10"
    )
    ids |= {"cust_alert": c.id, "wallet_alert": wallet.id}
    fp.alert_settings.create_alert_settings(
        entity_type="wallet",
        entity_id=wallet.id,
        config={
            "alert_enabled": True,
            "alert_threshold_type": "absolute",
            "critical": {"condition": "below", "threshold": "5"},
        },
    )

    def logged(count: int) -> list[Any]:
        deadline = time.monotonic() + 30
        while True:
            rows = fp.alerts.query_alert_log(entity_id=wallet.id).items or []
            if len(rows) >= count or time.monotonic() > deadline:
                assert len(rows) == count, rows
                return rows
            time.sleep(0.1)

    paid = fp.invoices.create_invoice(
        customer_id=c.id, currency="usd", amount_due="8", subtotal="8", total="8"
    )
    fp.invoices.finalize_invoice(id=paid.id)
    [alarm] = logged(1)
    fp.wallets.top_up_wallet(
        id=wallet.id, credits_to_add="10", transaction_reason="FREE_CREDIT_GRANT"
    )
    recovered, _alarm = logged(2)
    ids |= {"alog_alarm": alarm.id, "alog_ok": recovered.id}


def _features_and_events(w: World) -> None:
    """Two boolean features entitled on plan A (so subscription A has both), two events."""
    fp, ids = w.fp, w.ids
    for name in ("f1", "f2"):
        feature = fp.features.create_feature(
            name=f"feature {name}", type_="boolean", lookup_key=unique(name)
        )
        ids |= {name: feature.id, f"{name}_key": feature.lookup_key}
        # f2's grant is disabled, so is_enabled tells the two apart
        grant = fp.entitlements.create_entitlement(
            plan_id=ids["plan_a"],
            feature_id=feature.id,
            feature_type="boolean",
            is_enabled=name == "f1",
        )
        ids[f"ent_{name}"] = grant.id
    events = []
    for name, customer, minutes in (("a", ids["ext_a"], 5), ("b", ids["ext_b"], 40)):
        event_id = unique(f"ev_{name}")
        ids[f"ev_{name}"] = event_id
        events.append(
            {
                "event_id": event_id,
                "event_name": f"fw_{name}",
                "external_customer_id": customer,
                "source": f"src_{name}",
                "timestamp": (w.before + timedelta(minutes=minutes)).isoformat(),
                "properties": {"region": "eu" if name == "a" else "us", "n": str(minutes)},
            }
        )
    fp.events.ingest_events_bulk(events=events)
    with w.tenant.client() as http:
        meter = http.post(
            "/v1/meters",
            json={
                "name": "fw_a",
                "event_name": "fw_a",
                "aggregation": {"type": "COUNT"},
                "reset_usage": "BILLING_PERIOD",
            },
        )
        assert meter.status_code == 201, meter.text
        ids["meter_a"] = meter.json()["id"]


def _units_rates_and_groups(w: World) -> None:
    """Price units A (usd) and B (eur); exchange rates A (usd→eur, the tenant's) and B
    (eur→jpy, customer B's, from the market); groups A (prices, "group a") and B
    (features, "group b")."""
    fp, ids = w.fp, w.ids
    for name, currency in (("a", "usd"), ("b", "eur")):
        code = unique(f"u{name}")[:20]
        unit = fp.price_units.create_price_unit(
            code=code, name=f"unit {name}", symbol=name, base_currency=currency, conversion_rate="2"
        )
        ids |= {f"unit_{name}": unit.id, f"unit_{name}_code": code}
    fx_a = fp.fx_rates.create_fx_rate(
        from_currency="usd", to_currency="eur", scope="tenant", rate="0.9"
    )
    fx_b = fp.fx_rates.create_fx_rate(
        from_currency="eur",
        to_currency="jpy",
        scope="customer",
        scope_id=ids["cust_b"],
        rate="150",
        source="market",
    )
    ids |= {"fx_a": fx_a.id, "fx_b": fx_b.id}
    for name, kind in (("a", "price"), ("b", "feature")):
        key = unique(f"g{name}")
        group = fp.groups.create_group(name=f"group {name}", lookup_key=key, entity_type=kind)
        ids |= {f"group_{name}": group.id, f"group_{name}_key": key}


def _addons(w: World) -> None:
    """Two add-ons, A then B, and a third deleted one (only an archived search finds it)."""
    for name in ("a", "b", "gone"):
        addon = w.fp.addons.create_addon(name=f"addon {name}", lookup_key=unique(f"addon_{name}"))
        w.ids |= {f"addon_{name}": addon.id, f"addon_{name}_key": addon.lookup_key}
    w.fp.addons.delete_addon(id=w.ids["addon_gone"])


def _costsheets(w: World) -> None:
    """Cost sheets A ("cost a") then B ("cost b"), and a third deleted one (only an archived
    search finds it); A has one price."""
    for name in ("a", "b", "gone"):
        made = w.fp.costs.create_costsheet(name=f"cost {name}", lookup_key=unique(f"cost_{name}"))
        sheet = made.costsheet
        w.ids |= {f"cost_{name}": sheet.id, f"cost_{name}_key": sheet.lookup_key}
    w.fp.costs.delete_costsheet(id=w.ids["cost_gone"])
    price = w.fp.prices.create_price(
        entity_type="COSTSHEET",
        entity_id=w.ids["cost_a"],
        type_="USAGE",
        meter_id=w.ids["meter_a"],
        billing_model="FLAT_FEE",
        amount="0.5",
        price_unit_type="FIAT",
        currency="usd",
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
    )
    w.ids["cost_a_price"] = price.id


def _paid_invoice(w: World, customer: str, currency: str, amount: str) -> tuple[str, str]:
    """A finalized one-line invoice (in a currency the customer has no wallet in, so nothing
    pays it at finalize): its id and its line's."""
    with w.tenant.client() as http:
        created = http.post(
            "/v1/invoices",
            json={
                "customer_id": w.ids[customer],
                "currency": currency,
                "amount_due": amount,
                "subtotal": amount,
                "total": amount,
                "line_items": [{"display_name": "Service", "amount": amount, "quantity": "1"}],
            },
        )
        assert created.status_code == 201, created.text
        invoice_id = created.json()["id"]
        assert http.post(f"/v1/invoices/{invoice_id}/finalize").status_code == 200
        line = http.get(f"/v1/invoices/{invoice_id}").json()["line_items"][0]["id"]
    return invoice_id, line


def _payments_and_refunds(w: World) -> None:
    """A's GBP invoice paid offline (tracked as trk-a), 3 of it refunded back to the source;
    B's EUR invoice paid, a pending payment beside it, and 1 refunded to a EUR wallet B does
    not have (so that refund failed); each customer mapped to its own Stripe customer."""
    fp, ids = w.fp, w.ids
    inv_a, line_a = _paid_invoice(w, "cust_a", "gbp", "10")
    inv_b, line_b = _paid_invoice(w, "cust_b", "eur", "20")
    offline = {"destination_type": "INVOICE", "payment_method_type": "OFFLINE"}
    pay_a = fp.payments.create_payment(**offline, destination_id=inv_a, currency="gbp", amount="10")
    fp.payments.update_payment(id=pay_a.id, gateway_tracking_id="trk-a")
    pay_b = fp.payments.create_payment(
        **offline, destination_id=inv_b, currency="eur", amount="5", process_payment=False
    )
    pay_b2 = fp.payments.create_payment(
        **offline, destination_id=inv_b, currency="eur", amount="20"
    )
    ids |= {"inv_pay_a": inv_a, "inv_pay_b": inv_b}
    ids |= {"pay_a": pay_a.id, "pay_b": pay_b.id, "pay_b2": pay_b2.id}
    for name, invoice_id, line, amount, target in (
        ("a", inv_a, line_a, "3", "BACK_TO_SOURCE"),
        ("b", inv_b, line_b, "1", "PREPAID_WALLET"),
    ):
        note = fp.credit_notes.create_credit_note(
            invoice_id=invoice_id,
            reason="SERVICE_ISSUE",
            line_items=[{"invoice_line_item_id": line, "amount": amount}],
            refund_target=target,
        )
        [refund] = fp.refunds.list_refunds(credit_note_ids=[note.id]).items
        ids |= {f"cn_{name}": note.id, f"refund_{name}": refund.id}
    for name in ("a", "b"):
        mapping = fp.integrations.link_integration_mapping(
            entity_type="customer",
            entity_id=ids[f"cust_{name}"],
            provider_type="stripe",
            provider_entity_id=f"cus_{name}_{ids[f'cust_{name}'][-6:]}",
        )
        ids[f"map_{name}"] = mapping.mapping.id


def _coupons_and_taxes(w: World) -> None:
    """A coupon for each customer, redeemed on a subscription of theirs (B's association
    ended an hour before ``before``); a tax rate for each, INTERNAL for A, EXTERNAL for B."""
    fp, ids = w.fp, w.ids
    plan, _price = _plan_with_price(fp, "pc", "MONTHLY", "1", {"line": "coupons"})
    for name in ("a", "b"):
        coupon = fp.coupons.create_coupon(
            name=f"coupon {name}",
            type_="percentage",
            cadence="forever",
            percentage_off="10",
            coupon_code=unique(f"cp_{name}"),
        )
        ids |= {f"coupon_{name}": coupon.id, f"coupon_{name}_code": coupon.coupon_code}
    redeemed = {
        "a": {"coupons": [ids["coupon_a"]]},
        "b": {
            "subscription_coupons": [
                {
                    "coupon_code": ids["coupon_b_code"],
                    "start_date": w.before - 2 * AN_HOUR,
                    "end_date": w.before - AN_HOUR,
                }
            ]
        },
    }
    for name, extra in redeemed.items():
        sub = fp.subscriptions.create_subscription(
            customer_id=ids[f"cust_{name}"],
            plan_id=plan.id,
            currency="usd",
            billing_period="MONTHLY",
            **extra,
        )
        [link] = fp.coupon_associations.list_coupon_associations(subscription_ids=[sub.id]).items
        ids |= {f"coupon_sub_{name}": sub.id, f"coupon_assoc_{name}": link.id}
    for name, scope in (("a", "INTERNAL"), ("b", "EXTERNAL")):
        code = unique(f"tax_{name}")
        rate = fp.tax_rates.create_tax_rate(code=code, name=code, percentage_value="5", scope=scope)
        ids |= {f"rate_{name}": rate.id, f"rate_{name}_code": code}
    tax_a = fp.tax_associations.create_tax_association(
        tax_rate_code=ids["rate_a_code"], entity_type="customer", entity_id=ids["cust_a"]
    )
    tax_b = fp.tax_associations.create_tax_association(
        tax_rate_code=ids["rate_b_code"], external_customer_id=ids["ext_b"]
    )
    ids |= {"tax_a": tax_a.id, "tax_b": tax_b.id}


def _schedules_and_line_items(w: World) -> None:
    """Subscription A's and B's line items; customer C's two subscriptions on plan A: the
    first with a plan change pending at its period's end (its old item and the staged one),
    the second with one cancelled and then an immediate change (an ended item)."""
    fp, ids = w.fp, w.ids
    for name in ("a", "b"):
        [item] = fp.subscriptions.get_subscription(id=ids[f"sub_{name}"]).line_items
        ids[f"li_{name}"] = item.id
    target, _price = _plan_with_price(fp, "pd", "MONTHLY", "30", {"line": "schedules"})
    c = fp.customers.create_customer(external_id=unique("c"), name="C")
    ids |= {"cust_c": c.id, "ext_c": c.external_id, "plan_d": target.id}
    change = {
        "target_plan_id": target.id,
        "proration_behavior": "none",
        "change_at": "end_of_period",
    }
    for name in ("1", "2"):
        sub = fp.subscriptions.create_subscription(
            customer_id=c.id, plan_id=ids["plan_a"], currency="usd", billing_period="MONTHLY"
        )
        done = fp.subscriptions.execute_subscription_plan_change_v2(id=sub.id, **change)
        ids |= {f"sched_sub_{name}": sub.id, f"sched_{name}": done.schedule_id}
        ids[f"boundary_{name}"] = sub.current_period_end.isoformat()
    items = fp.subscriptions.get_subscription(id=ids["sched_sub_1"]).line_items
    ids["li_old"] = next(i.id for i in items if i.entity_id == ids["plan_a"])
    ids["li_staged"] = next(i.id for i in items if i.entity_id == target.id)
    fp.subscriptions.cancel_subscription_schedule(schedule_id_param=ids["sched_2"])
    fp.subscriptions.execute_subscription_plan_change_v2(
        id=ids["sched_sub_2"], **{**change, "change_at": "immediate"}
    )
    ended = fp.subscriptions.get_subscription(id=ids["sched_sub_2"]).line_items
    ids["li_ended"] = next(i.id for i in ended if i.entity_id == ids["plan_a"])


def _tasks_schedules_and_activity(w: World) -> None:
    """A completed customers export (A), a pending invoices export (B), an hourly events
    schedule (enabled) with a run (C) and a daily invoices one (disabled); the activity
    entries of customers A and B's creation."""
    fp, ids = w.fp, w.ids
    task_a = fp.tasks.create_task(
        task_type="EXPORT",
        entity_type="CUSTOMERS",
        file_type="CSV",
        file_provider="meterline",
        upload_id=unique("fw_task_a"),
    )
    db = Database.connect(Settings(database_url=w.tenant.server.database_url))
    try:
        ExportJob(db, interval=0).run_once()
    finally:
        db.dispose()
    task_b = fp.tasks.create_task(
        task_type="EXPORT",
        entity_type="INVOICES",
        file_type="JSON",
        file_provider="meterline",
        upload_id=unique("fw_task_b"),
    )
    sched_a = fp.scheduled_tasks.create_scheduled_task(
        connection_id="meterline", entity_type="events", interval="hourly", job_config={}
    )
    sched_b = fp.scheduled_tasks.create_scheduled_task(
        connection_id="meterline",
        entity_type="invoice",
        interval="daily",
        job_config={},
        enabled=False,
    )
    run = fp.scheduled_tasks.trigger_scheduled_task_run(id=sched_a.id)
    ids |= {
        "task_a": task_a.workflow_id,
        "task_b": task_b.workflow_id,
        "task_c": run.workflow_id,
        "sched_a": sched_a.id,
        "sched_b": sched_b.id,
        "task_creator": fp.tasks.get_task(id=task_a.workflow_id).created_by or "",
    }
    for name in ("a", "b"):
        [created] = fp.activity.list_activity(
            entity_id=ids[f"cust_{name}"], actions=["created"]
        ).items
        ids |= {f"act_{name}": created.id, f"act_{name}_request": created.request_id}
