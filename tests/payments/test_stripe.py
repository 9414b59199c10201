"""The Stripe provider end to end against localstripe, with the official ``stripe`` package
and the official Flexprice SDK: a customer with a card pays an invoice; a declined card marks
the payment failed and the invoice stays due; a refund; a checkout session completes; a
retried payment never charges twice (its idempotency key reaches Stripe); Stripe down is
recorded on the payment and leaves the invoice as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flexprice.models import WebhookDtoCheckoutSessionWebhookPayload, errors
from sqlalchemy import create_engine, text

from tests.conftest import Server, new_tenant, unique
from tests.payments.builders import amounts, finalized_invoice
from tests.payments.conftest import LocalStripe

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then every charge is declined


@pytest.fixture
def world(stripe_server: Server) -> Iterator[tuple[Any, httpx.Client]]:
    tenant = new_tenant(stripe_server)
    with tenant.flexprice() as fp, tenant.client() as http:
        yield fp, http


def _card_holder(fp: Any, stripe: Any, number: str) -> tuple[Any, str]:
    """A Meterline customer linked to a Stripe customer holding the card ``number``."""
    buyer = fp.customers.create_customer(external_id=unique("card"), name="Card Holder")
    stripe_customer = stripe.v1.customers.create(params={"name": "Card Holder"})
    method = stripe.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    stripe.v1.payment_methods.attach(method.id, params={"customer": stripe_customer.id})
    fp.integrations.link_integration_mapping(
        entity_type="customer",
        entity_id=buyer.id,
        provider_type="stripe",
        provider_entity_id=stripe_customer.id,
    )
    return buyer, str(method.id)


def _sent_keys(localstripe: LocalStripe, key: str) -> list[dict[str, str]]:
    return [k for k in localstripe.idempotency_keys() if k["key"] == key]


def test_card_payment_decline_refund_and_idempotency(
    world: tuple[Any, httpx.Client], localstripe: LocalStripe
) -> None:
    fp, http = world
    stripe = localstripe.client()
    assert [i.provider for i in fp.integrations.get_integration_config().integrations] == ["stripe"]
    buyer, card = _card_holder(fp, stripe, GOOD_CARD)
    [provider] = fp.customers.list_customer_payment_methods(id=buyer.id).providers
    assert provider.provider == "stripe" and provider.error is None
    [saved] = provider.items
    assert (saved.id, saved.type, saved.card.last4, saved.is_default) == (
        card,
        "CARD",
        "4242",
        True,
    )

    inv = finalized_invoice(http, buyer.id, "25.50")
    card_payment = {
        "destination_type": "INVOICE",
        "destination_id": inv["id"],
        "currency": "usd",
        "payment_method_type": "CARD",
        "payment_gateway": "stripe",
    }
    with pytest.raises(errors.FlexpriceError) as unknown:
        fp.payments.create_payment(**card_payment, amount="25.5", payment_method_id="pm_nope")
    assert unknown.value.status_code == 400 and "payment_method_id" in unknown.value.body
    with pytest.raises(errors.FlexpriceError) as above:
        fp.payments.create_payment(**card_payment, amount="25.51", payment_method_id=card)
    assert above.value.status_code == 400 and "above" in above.value.body
    key = unique("pay")
    paid = fp.payments.create_payment(
        **card_payment, amount="25.5", payment_method_id=card, idempotency_key=key
    )
    assert paid.payment_status == "SUCCEEDED", paid.error_message
    intent = stripe.v1.payment_intents.retrieve(paid.gateway_payment_id)
    assert (intent.amount, intent.currency, intent.status) == (2550, "usd", "succeeded")
    # Named by its key (the same on a request resent after a crash), not by its id.
    assert intent.metadata["meterline_idempotency_key"] == key
    assert "meterline_payment_id" not in intent.metadata
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "25.5", "0", "0")
    # The key reached Stripe with the charge; retrying the payment charges nothing again.
    assert [k["path"] for k in _sent_keys(localstripe, key)] == ["/v1/payment_intents"]
    again = fp.payments.create_payment(
        **card_payment, amount="25.5", payment_method_id=card, idempotency_key=key
    )
    assert again.id == paid.id and again.gateway_payment_id == paid.gateway_payment_id
    assert len(_sent_keys(localstripe, key)) == 1
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "25.5", "0", "0")

    # A refund of part of it, through Stripe, with its own idempotency key.
    line = http.get(f"/v1/invoices/{inv['id']}").json()["line_items"][0]["id"]
    note = fp.credit_notes.create_credit_note(
        invoice_id=inv["id"],
        reason="ORDER_CHANGE",
        line_items=[{"invoice_line_item_id": line, "amount": "5.5"}],
    )
    [refund] = fp.refunds.list_refunds(credit_note_ids=[note.id]).items
    assert (refund.refund_status, refund.refund_destination, refund.amount) == (
        "SUCCEEDED",
        "GATEWAY",
        "5.5",
    )
    stripe_refund = stripe.v1.refunds.retrieve(refund.gateway_refund_id)
    assert (stripe_refund.amount, stripe_refund.payment_intent) == (550, intent.id)
    assert _sent_keys(localstripe, refund.gateway_idempotency_token)
    assert amounts(http, inv["id"]) == ("PARTIALLY_REFUNDED", "25.5", "0", "5.5")
    assert fp.refunds.list_refunds(gateway="stripe", only_settled=True).items[0].id == refund.id

    # A declined card: the payment fails with Stripe's reason, the invoice stays due.
    declined_buyer, _ = _card_holder(fp, stripe, DECLINED_CARD)
    due = finalized_invoice(http, declined_buyer.id, "10")
    attempt = fp.invoices.attempt_invoice_payment(id=due["id"])
    assert attempt.message == "payment failed"
    [failed] = fp.payments.list_payments(destination_id=due["id"]).items
    assert failed.payment_status == "FAILED" and "declined" in failed.error_message
    assert failed.attempts[0].error_message == failed.error_message
    assert amounts(http, due["id"]) == ("FAILED", "0", "10", "0")
    retried = fp.payments.process_payment(id=failed.id)
    assert retried.payment_status == "FAILED" and len(retried.attempts) == 2
    assert amounts(http, due["id"]) == ("FAILED", "0", "10", "0")


def _checkout_events(server: Server, session_ids: set[str]) -> list[tuple[str, str, Any]]:
    """``(session id, event type, body)`` of the outbox's checkout messages, oldest first."""
    engine = create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_type, payload FROM webhook_messages "
                    "WHERE event_type LIKE 'checkout.session.%' ORDER BY created_at"
                )
            ).all()
    finally:
        engine.dispose()
    out = []
    for row in rows:
        body = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
        parsed = WebhookDtoCheckoutSessionWebhookPayload.model_validate(body)
        assert parsed.checkout_session is not None and parsed.event_type == row.event_type
        assert set(body["checkout_session"]) <= set(type(parsed.checkout_session).model_fields)
        if parsed.checkout_session.id in session_ids:
            out.append((parsed.checkout_session.id, row.event_type, parsed.checkout_session))
    return out


def _expire(server: Server, session_id: str) -> None:
    """The session's hour has passed (its deadline moved back: no clock is injectable)."""
    engine = create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE checkout_sessions SET expires_at = :at WHERE id = :id"),
                {
                    "at": datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1),
                    "id": session_id,
                },
            )
    finally:
        engine.dispose()


def test_checkout_session_completes_when_the_customer_pays(
    world: tuple[Any, httpx.Client], localstripe: LocalStripe, stripe_server: Server
) -> None:
    fp, http = world
    stripe = localstripe.client()
    buyer, card = _card_holder(fp, stripe, GOOD_CARD)
    inv = finalized_invoice(http, buyer.id, "12")

    def start(invoice_id: str, **extra: Any) -> Any:
        return fp.checkout.create_checkout_session(
            action="pay_invoice",
            customer_external_id=buyer.external_id,
            payment_provider="stripe",
            configuration={"pay_invoice_params": {"invoice_id": invoice_id}},
            success_url="https://example.com/paid",
            cancel_url="https://example.com/back",
            failure_url="https://example.com/failed",
            metadata={"cart": "7"},
            **extra,
        )

    with pytest.raises(errors.FlexpriceError) as other_action:
        fp.checkout.create_checkout_session(
            action="wallet_topup", customer_external_id=buyer.external_id, payment_provider="stripe"
        )
    assert other_action.value.status_code == 400 and "action" in other_action.value.body

    opened = start(inv["id"], idempotency_key="chk-1")
    assert (opened.checkout_status, opened.terminal, opened.checkout_invoice_id) == (
        "initiated",
        False,
        inv["id"],
    )
    assert start(inv["id"], idempotency_key="chk-1").id == opened.id
    assert (opened.success_url, opened.cancel_url, opened.failure_url, opened.metadata) == (
        "https://example.com/paid",
        "https://example.com/back",
        "https://example.com/failed",
        {"cart": "7"},
    )
    payment = fp.payments.get_payment(id=opened.checkout_payment_id)
    assert payment.payment_status == "PENDING" and payment.gateway_payment_id
    assert amounts(http, inv["id"]) == ("PENDING", "0", "12", "0")

    # The customer pays at Stripe (what Stripe.js does with their card).
    stripe.v1.payment_intents.update(payment.gateway_payment_id, params={"payment_method": card})
    stripe.v1.payment_intents.confirm(payment.gateway_payment_id)
    done = fp.checkout.get_checkout_session(id=opened.id)
    assert (done.checkout_status, done.terminal, done.payment.status) == (
        "completed",
        True,
        "SUCCEEDED",
    )
    assert amounts(http, inv["id"]) == ("SUCCEEDED", "12", "0", "0")
    with pytest.raises(errors.FlexpriceError) as closed:
        fp.checkout.cancel_checkout_session(id=opened.id)
    assert closed.value.status_code == 400

    # Cancelled before paying: the charge is cancelled at Stripe and the invoice stays due.
    later = finalized_invoice(http, buyer.id, "3")
    abandoned = start(later["id"])
    cancelled = fp.checkout.cancel_checkout_session(id=abandoned.id)
    assert (cancelled.checkout_status, cancelled.failure_reason) == ("failed", "cancelled")
    intent = fp.payments.get_payment(id=abandoned.checkout_payment_id)
    assert intent.payment_status == "VOIDED"
    assert stripe.v1.payment_intents.retrieve(intent.gateway_payment_id).status == "canceled"
    assert amounts(http, later["id"]) == ("PENDING", "0", "3", "0")
    fp.checkout.delete_checkout_session(id=abandoned.id)
    with pytest.raises(errors.FlexpriceError) as gone:
        fp.checkout.get_checkout_session(id=abandoned.id)
    assert gone.value.status_code == 404

    # Not paid within its hour: read after its deadline, it has expired.
    lapsing = start(finalized_invoice(http, buyer.id, "2")["id"])
    _expire(stripe_server, lapsing.id)
    assert fp.checkout.get_checkout_session(id=lapsing.id).checkout_status == "expired"
    assert fp.checkout.get_checkout_session(id=lapsing.id).checkout_status == "expired"

    # One webhook event per change of status, each the SDK's body for its type.
    events = _checkout_events(stripe_server, {opened.id, abandoned.id, lapsing.id})
    assert [(i, t) for i, t, _ in events] == [
        (opened.id, "checkout.session.initiated"),
        (opened.id, "checkout.session.completed"),
        (abandoned.id, "checkout.session.initiated"),
        (abandoned.id, "checkout.session.failed"),
        (lapsing.id, "checkout.session.initiated"),
        (lapsing.id, "checkout.session.expired"),
    ]
    bodies = [b for _, _, b in events]
    assert (bodies[0].checkout_status, bodies[0].checkout_invoice_id) == ("initiated", inv["id"])
    assert bodies[1].checkout_status == "completed" and bodies[1].completed_at is not None
    assert (bodies[3].checkout_status, bodies[3].failure_reason) == ("failed", "cancelled")
    assert bodies[5].checkout_status == "expired"


def test_stripe_down_is_recorded_on_the_payment(stripe_down_server: Server) -> None:
    tenant = new_tenant(stripe_down_server)
    with tenant.flexprice() as fp, tenant.client() as http:
        buyer = fp.customers.create_customer(external_id=unique("down"), name="Down")
        inv = finalized_invoice(http, buyer.id, "9")
        payment = fp.payments.create_payment(
            destination_type="INVOICE",
            destination_id=inv["id"],
            currency="usd",
            payment_method_type="CARD",
            payment_gateway="stripe",
            amount="9",
        )
        assert payment.payment_status == "FAILED"
        assert payment.error_message.startswith("stripe unavailable")
        assert amounts(http, inv["id"]) == ("FAILED", "0", "9", "0")
        methods = fp.customers.list_customer_payment_methods(id=buyer.id).providers
        assert [(p.provider, p.items) for p in methods] == [("stripe", [])]
