"""Webhook bodies in Flexprice's shape: every delivered message parses with the SDK's own
payload model for its event type (``flexprice.webhook_events`` names each type's model),
names its entity correctly, and sends no key the model does not know."""

from __future__ import annotations

import inspect
import time
import typing
from typing import Any

import httpx
import pytest
from flexprice import models as fm
from flexprice.webhook_events import WebhookEvents
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook

from meterline.webhooks.models import (
    EVENT_TYPES,
    FLEXPRICE_EVENT_TYPES,
    LEGACY_EVENT_TYPES,
    METERLINE_EVENT_TYPES,
)
from tests.api.flexprice.test_checks import _check, _setup
from tests.conftest import Server, Tenant, new_tenant, unique
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_webhooks import one_off_for

ALERT_EVENT_TYPES = (
    "wallet.credit_balance.recovered",
    "subscription.spend.threshold_reached",
    "subscription.spend.threshold_recovered",
    "subscription.line_item_spend.threshold_reached",
    "subscription.line_item_spend.threshold_recovered",
    "entitlement.usage_threshold.reached",
    "entitlement.usage_threshold.recovered",
)
CHECKOUT_EVENT_TYPES = (
    "checkout.session.initiated",
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.failed",
)

NOTICE_EVENT_TYPES = ("invoice.payment.overdue", "subscription.renewal.due")


def _sdk_events() -> dict[str, type[BaseModel]]:
    """Event type -> payload model, from the SDK's documentation-only ``webhook_events``
    methods: each one's docstring opens with its type and returns its body's model."""
    found: dict[str, type[BaseModel]] = {}
    for name, method in inspect.getmembers(WebhookEvents, inspect.isfunction):
        if not name.startswith("post_webhook_events_") or name.endswith("_async"):
            continue
        event_type = (method.__doc__ or "").strip().splitlines()[0]
        found[event_type] = typing.get_type_hints(method)["return"]
    return found


SDK_EVENTS = _sdk_events()


def test_meterline_event_names_are_flexprices_where_flexprice_has_the_event() -> None:
    assert len(SDK_EVENTS) == 62 and SDK_EVENTS["invoice.update.finalized"] is (
        fm.WebhookDtoInvoiceWebhookPayload
    )
    assert set(FLEXPRICE_EVENT_TYPES) <= set(SDK_EVENTS)
    assert not set(METERLINE_EVENT_TYPES) & set(SDK_EVENTS)
    assert set(LEGACY_EVENT_TYPES.values()) <= set(FLEXPRICE_EVENT_TYPES)
    assert not set(LEGACY_EVENT_TYPES) & set(EVENT_TYPES)


def _unknown_keys(value: Any, model: type[BaseModel], where: str = "") -> list[str]:
    """Keys of ``value`` that ``model`` (recursively, through nested models) has no field
    for: pydantic ignores them, so a misspelt field would otherwise pass unseen."""
    if not isinstance(value, dict):
        return []
    out: list[str] = []
    hints = typing.get_type_hints(model)
    for key, item in value.items():
        if key not in model.model_fields:
            out.append(where + key)
            continue
        for nested in _models_in(hints[key]):
            items = item if isinstance(item, list) else [item]
            for one in items:
                out += _unknown_keys(one, nested, f"{where}{key}.")
    return out


def _models_in(hint: Any) -> list[type[BaseModel]]:
    if inspect.isclass(hint) and issubclass(hint, BaseModel):
        return [hint]
    return [m for arg in typing.get_args(hint) for m in _models_in(arg)]


@pytest.fixture
def hook_tenant(hook_server: Server) -> Tenant:
    return new_tenant(hook_server)


def _wait_for_types(receiver: Receiver, path: str, wanted: set[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        bodies = [r.json for r in receiver.at(path)]
        seen = {b.get("event_type") for b in bodies}
        if wanted <= seen or time.monotonic() > deadline:
            return bodies
        time.sleep(0.05)


def test_every_delivered_event_parses_with_the_sdks_model_for_its_type(
    hook_tenant: Tenant, receiver: Receiver
) -> None:
    sdk = hook_tenant.flexprice()
    http: httpx.Client
    with hook_tenant.client() as http:
        path = "/" + unique("all")
        hook = http.post("/v1/webhooks/endpoints", json={"url": receiver.url(path)}).json()

        # Catalog, customer and subscription: created, then changed and removed.
        s = _setup(http, limit=5)
        customer, feature, sub = s["customer"], s["feature"], s["sub"]
        sdk.customers.update_customer(id=customer["id"], name="Renamed Co", email="a@b.co")
        sdk.features.update_feature(id=feature["id"], description="API calls")
        grant_id = s["grant"]["id"]
        sdk.entitlements.update_entitlement(id=grant_id, usage_limit=7)
        # Meterline's own: the limit reached, then exceeded.
        assert _check(http, s, consume=7).json()["allowed"] is True
        assert _check(http, s, consume=1).json()["allowed"] is False

        # A wallet that pays invoices and drops below its threshold.
        wallet = http.post(
            "/v1/wallets",
            json={
                "customer_id": customer["id"],
                "currency": "usd",
                "initial_credits_to_load": "30",
                "metadata": {"low_balance_threshold": "10"},
            },
        ).json()
        paid = one_off_for(http, customer["id"], "25")
        sdk.invoices.finalize_invoice(id=paid["id"])  # wallet pays it: 30 -> 5
        sdk.invoices.trigger_invoice_comms_webhook(id=paid["id"])
        voided = one_off_for(http, customer["id"], "4")
        sdk.invoices.update_invoice(id=voided["id"], metadata={"po": "77"})
        sdk.invoices.void_invoice(id=voided["id"])
        # Payments (in EUR: the USD wallet pays none of it): recorded pending, updated, paid;
        # one bounced; refunds back to the source (succeeded) and to a EUR wallet (failed).
        payment_ids, owed = set(), []
        for amount in ("8", "3"):
            created = http.post(
                "/v1/invoices",
                json={
                    "customer_id": customer["id"],
                    "currency": "eur",
                    "amount_due": amount,
                    "subtotal": amount,
                    "total": amount,
                    "line_items": [{"display_name": "Work", "amount": amount, "quantity": "1"}],
                },
            ).json()
            sdk.invoices.finalize_invoice(id=created["id"])
            owed.append(created["id"])
            payment = sdk.payments.create_payment(
                destination_type="INVOICE",
                destination_id=created["id"],
                currency="eur",
                payment_method_type="OFFLINE",
                amount=amount,
                process_payment=False,
            )
            payment_ids.add(payment.id)
            if amount == "8":
                sdk.payments.update_payment(id=payment.id, metadata={"bank": "x"})
                sdk.payments.process_payment(id=payment.id)
            else:
                sdk.payments.update_payment(id=payment.id, payment_status="FAILED")
        work = http.get(f"/v1/invoices/{owed[0]}").json()["line_items"][0]["id"]
        note_ids = set()
        for target in ("BACK_TO_SOURCE", "PREPAID_WALLET"):
            note = sdk.credit_notes.create_credit_note(
                invoice_id=owed[0],
                reason="SERVICE_ISSUE",
                line_items=[{"invoice_line_item_id": work, "amount": "1"}],
                refund_target=target,
            )
            note_ids.add(note.id)
        refund_ids = {r.id for r in sdk.refunds.list_refunds(invoice_ids=[owed[0]]).items}
        # A credit note made as a draft, then voided (created, updated).
        draft_note = sdk.credit_notes.create_credit_note(
            invoice_id=owed[0],
            reason="BILLING_ERROR",
            line_items=[{"invoice_line_item_id": work, "amount": "1"}],
            process_credit_note=False,
        )
        sdk.credit_notes.void_credit_note(id=draft_note.id)
        note_ids.add(draft_note.id)
        # The wallet changed and, with a second one, terminated.
        sdk.wallets.update_wallet(id=wallet["id"], name="Prepaid credits")
        spare = sdk.wallets.create_wallet(customer_id=customer["id"], currency="eur")
        sdk.wallets.terminate_wallet(id=spare.id)
        # The subscription's life: updated, paused and resumed, moved to another plan; a
        # draft made and activated.
        updated = http.put(f"/v1/subscriptions/{sub['id']}", json={"metadata": {"team": "a"}})
        assert updated.status_code == 200, updated.text
        assert http.post(f"/v1/subscriptions/{sub['id']}/pause", json={}).status_code == 200
        sdk.subscriptions.resume_subscription(id=sub["id"])
        bigger = http.post("/v1/plans", json={"name": "Bigger"}).json()
        http.post(
            "/v1/prices",
            json={
                "entity_type": "PLAN",
                "entity_id": bigger["id"],
                "type": "FIXED",
                "price_unit_type": "FIAT",
                "currency": "usd",
                "billing_model": "FLAT_FEE",
                "amount": "9",
                "billing_period": "MONTHLY",
                "invoice_cadence": "ADVANCE",
            },
        ).raise_for_status()
        changed = http.post(
            f"/v1/subscriptions/{sub['id']}/change/execute",
            json={
                "target_plan_id": bigger["id"],
                "billing_cadence": "RECURRING",
                "billing_cycle": "anniversary",
                "billing_period": "MONTHLY",
                "proration_behavior": "none",
            },
        )
        assert changed.status_code == 200, changed.text
        draft = http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": bigger["id"],
                "currency": "usd",
                "billing_period": "MONTHLY",
                "subscription_status": "draft",
            },
        )
        assert draft.status_code == 201, draft.text
        activated = http.post(f"/v1/subscriptions/{draft.json()['id']}/activate", json={})
        assert activated.status_code == 200, activated.text
        cancel = http.post(
            f"/v1/subscriptions/{sub['id']}/cancel", json={"cancellation_type": "immediate"}
        )
        assert cancel.status_code == 200, cancel.text
        sdk.entitlements.delete_entitlement(id=grant_id)
        sdk.features.delete_feature(id=s["flag"]["id"])
        gone = sdk.customers.create_customer(external_id=unique("gone"), name="Gone")
        assert gone is not None and gone.id is not None
        sdk.customers.delete_customer(id=gone.id)

    expected = set(EVENT_TYPES) - {
        "subscription.billing_failed",
        "instance.usage_threshold_reached",
        # alert settings' events: crossed, recovered and parsed in tests/alerts/test_firing.py
        *ALERT_EVENT_TYPES,
        # checkout sessions need Stripe: parsed in tests/payments/test_stripe.py
        *CHECKOUT_EVENT_TYPES,
        # the billing clock's notices, at a time of its own: tests/invoicing/test_notices.py
        *NOTICE_EVENT_TYPES,
    }
    bodies = _wait_for_types(receiver, path, expected)
    for got in receiver.at(path):  # every one signed with the endpoint's secret
        Webhook(hook["secret"]).verify(got.body, got.headers)
    assert {b["event_type"] for b in bodies} == expected

    ids = {
        "customer": {customer["id"], gone.id},
        "feature": {feature["id"], s["flag"]["id"]},
        "entitlement": None,  # checked below, by feature
        "subscription": {sub["id"], draft.json()["id"]},
        "wallet": {wallet["id"], spare.id},
        "credit_note": note_ids,
        "payment": payment_ids,
        "refund": refund_ids,
    }
    wallet_ids = ids["wallet"]
    for body in bodies:
        event_type = body["event_type"]
        if event_type in METERLINE_EVENT_TYPES:
            assert body["customer_id"] == customer["id"], body
            assert body["feature_id"] == feature["id"], body
            continue
        model = SDK_EVENTS[event_type]
        parsed = model.model_validate(body)
        assert parsed.event_type == event_type
        assert _unknown_keys(body, model) == [], (event_type, body)
        entity_name = event_type.split(".")[0]
        if event_type == "wallet.transaction.created":
            assert parsed.transaction.wallet_id in wallet_ids, body
            continue
        entity = getattr(parsed, entity_name)
        assert entity is not None, body
        if entity_name == "entitlement":
            assert entity.feature_id in (feature["id"], s["flag"]["id"])
        elif entity_name == "invoice":  # ours, and the subscription's first invoice
            assert entity.customer_id == customer["id"]
        else:
            assert entity.id in ids[entity_name], (event_type, entity.id)

    def only(event_type: str) -> Any:
        [one] = [b for b in bodies if b["event_type"] == event_type]
        return SDK_EVENTS[event_type].model_validate(one)

    renamed = [b for b in bodies if b["event_type"] == "customer.updated"]
    assert any(b["customer"]["name"] == "Renamed Co" for b in renamed)
    updated_grant = only("entitlement.updated").entitlement
    assert (updated_grant.id, updated_grant.usage_limit) == (grant_id, 7)
    [finalized] = [
        b
        for b in bodies
        if b["event_type"] == "invoice.update.finalized" and b["invoice"]["id"] == paid["id"]
    ]
    invoice = SDK_EVENTS["invoice.update.finalized"].model_validate(finalized).invoice
    assert (invoice.id, invoice.invoice_status, invoice.payment_status) == (
        paid["id"],
        "FINALIZED",
        "SUCCEEDED",
    )
    assert (invoice.subtotal, invoice.total_prepaid_credits_applied) == ("25", "25")
    assert invoice.customer.id == customer["id"] and invoice.finalized_at is not None
    payments = [b["invoice"] for b in bodies if b["event_type"] == "invoice.update.payment"]
    ours = [p for p in payments if p["id"] in (paid["id"], voided["id"])]
    assert [(p["id"], p["payment_status"]) for p in ours] == [(paid["id"], "SUCCEEDED")]
    assert only("invoice.update.voided").invoice.voided_at is not None
    edited = only("invoice.update").invoice
    assert (edited.id, edited.invoice_status, edited.metadata) == (
        voided["id"],
        "DRAFT",
        {"po": "77"},
    )
    drafted = {b["invoice"]["id"] for b in bodies if b["event_type"] == "invoice.create.drafted"}
    assert {paid["id"], voided["id"], *owed} <= drafted
    moves = [
        SDK_EVENTS["wallet.transaction.created"].model_validate(b).transaction
        for b in bodies
        if b["event_type"] == "wallet.transaction.created"
    ]
    assert [
        (m.type, m.transaction_reason, m.credit_amount, m.credit_balance_after)
        for m in moves
        if m.wallet_id == wallet["id"]
    ][:2] == [
        ("credit", "FREE_CREDIT_GRANT", "30", "30"),
        ("debit", "INVOICE_PAYMENT", "25", "5"),
    ]
    cancelled = only("subscription.cancelled")
    assert cancelled.subscription.subscription_status == "cancelled"
    assert cancelled.customer.id == customer["id"]
    dropped = only("wallet.credit_balance.dropped")
    assert (dropped.wallet.credit_balance, dropped.alert.state) == ("5", "in_alarm")
    assert dropped.alert.alert_settings.critical.threshold == "10"
    assert only("feature.deleted").feature.id == s["flag"]["id"]
    assert only("customer.deleted").customer.id == gone.id


def _outbox_types(tenant: Tenant) -> list[str]:
    """The event types of the tenant's outbox messages, oldest first."""
    url = tenant.server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_type FROM webhook_messages WHERE environment_id = :env "
                    "ORDER BY created_at"
                ),
                {"env": tenant.environment_id},
            ).all()
    finally:
        engine.dispose()
    return [r.event_type for r in rows]


FREQUENT = ("wallet.transaction.created", "invoice.create.drafted")


def test_frequent_events_cost_nothing_until_an_endpoint_wants_them(
    hook_tenant: Tenant, receiver: Receiver
) -> None:
    path = "/" + unique("frequent")
    with hook_tenant.client() as http:
        hook = http.post(
            "/v1/webhooks/endpoints",
            json={"url": receiver.url(path), "event_types": ["customer.updated"]},
        ).json()
        customer = http.post(
            "/v1/customers", json={"external_id": unique("freq"), "name": "Freq"}
        ).json()
        wallet = http.post(
            "/v1/wallets",
            json={"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "9"},
        ).json()
        one_off_for(http, customer["id"], "3")
        # Nobody subscribed: neither a body built nor a message written.
        assert not set(FREQUENT) & set(_outbox_types(hook_tenant))

        wanted = [*FREQUENT, "invoice.update"]
        changed = http.patch(f"/v1/webhooks/endpoints/{hook['id']}", json={"event_types": wanted})
        assert changed.status_code == 200, changed.text
        top_up = http.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            json={"credits_to_add": "2", "transaction_reason": "PURCHASED_CREDIT_DIRECT"},
        )
        assert top_up.status_code == 200, top_up.text
        draft = one_off_for(http, customer["id"], "4")
        update = f"/v1/invoices/{draft['id']}"
        assert http.put(update, json={"metadata": {"po": "1"}}).status_code == 200
        assert http.put(update, json={"metadata": {"po": "1"}}).status_code == 200  # no change
        later = {"due_date": "2030-01-02T00:00:00Z"}
        assert http.put(update, json=later).status_code == 200

    got = receiver.wait_for(path, 4)
    time.sleep(0.3)  # nothing more follows (the worker polls every 0.1 s)
    bodies = [r.json for r in receiver.at(path)]
    assert [b["event_type"] for b in bodies] == [
        "wallet.transaction.created",
        "invoice.create.drafted",
        "invoice.update",
        "invoice.update",
    ], bodies
    assert len(got) == 4
    for body in bodies:
        assert _unknown_keys(body, SDK_EVENTS[body["event_type"]]) == [], body
    move = SDK_EVENTS[FREQUENT[0]].model_validate(bodies[0]).transaction
    assert (move.wallet_id, move.type, move.credit_amount, move.credit_balance_after) == (
        wallet["id"],
        "credit",
        "2",
        "11",
    )
    assert bodies[1]["invoice"]["id"] == draft["id"]
    assert bodies[1]["invoice"]["invoice_status"] == "DRAFT"
    assert bodies[3]["invoice"]["due_date"].startswith("2030-01-02")
    assert [t for t in _outbox_types(hook_tenant) if t in wanted] == [
        b["event_type"] for b in bodies
    ]
