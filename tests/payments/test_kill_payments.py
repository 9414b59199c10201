"""The kill harness on card payments: a server SIGKILLed after Stripe charged and before it
committed the payment does not charge the card twice when the client retries.

Clients pay invoices by card through Stripe (localstripe, which here answers idempotent
requests as Stripe does: tests/payments/localstripe_server.py), each payment with its own
``idempotency_key``, and resend a request that got no answer, unchanged, until it is
answered. The test Stripe holds its answer to each new PaymentIntent for a moment after
creating it; the test SIGKILLs the server in that moment (the charge is made, Meterline has
not heard of it) and starts it again. The retried payment reaches Stripe with the same
``Idempotency-Key`` and is answered with the first PaymentIntent. Afterwards every invoice
is paid exactly once: one succeeded payment in Meterline for its amount, one PaymentIntent
at Stripe."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flexprice import Flexprice

from tests.conftest import BOOTSTRAP_KEY, POSTGRES_URL, Server, _postgres_database, new_tenant
from tests.payments.builders import amounts, finalized_invoice
from tests.payments.conftest import LocalStripe, _stripe_env
from tests.payments.test_stripe import GOOD_CARD, _card_holder
from tests.reliability.test_kill import Node

INVOICES = 6
KILLS = 3  # each after a charge reached Stripe and before its answer came back
INTENTS = "/v1/payment_intents"


@pytest.fixture(params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def card_node(
    request: pytest.FixtureRequest, tmp_path: Path, localstripe: LocalStripe
) -> Iterator[Node]:
    databases = _postgres_database(tmp_path) if request.param == "postgres" else None
    url = next(databases) if databases is not None else f"sqlite:///{tmp_path / 'pay.db'}"
    node = Node(url, tmp_path, _stripe_env(localstripe.url))
    node.start()
    try:
        yield node
    finally:
        node.stop()
        if databases is not None:
            for _ in databases:
                pass


def _charge_keys(localstripe: LocalStripe) -> list[str]:
    """The Idempotency-Key of every PaymentIntent creation Stripe received, in order."""
    return [
        k["key"]
        for k in localstripe.idempotency_keys()
        if k["method"] == "POST" and k["path"] == INTENTS
    ]


def test_a_payment_retried_after_a_sigkill_charges_the_card_once(
    card_node: Node, localstripe: LocalStripe
) -> None:
    node = card_node
    assert node.process is not None
    tenant = new_tenant(
        Server(node.base_url, node.database_url, BOOTSTRAP_KEY, node.process, node.log_dir)
    )
    headers = {"x-api-key": tenant.key}
    stripe = localstripe.client()
    with (
        httpx.Client(base_url=node.base_url, headers=headers, timeout=30) as http,
        Flexprice(server_url=node.base_url + "/v1", api_key_auth=tenant.key) as fp,
    ):
        buyer, card = _card_holder(fp, stripe, GOOD_CARD)
        invoices = [finalized_invoice(http, buyer.id, f"{10 + n}.25") for n in range(INVOICES)]
    keys = {i["id"]: f"kill-{i['id']}" for i in invoices}
    seen_before = Counter(_charge_keys(localstripe))

    answered: dict[str, dict[str, Any]] = {}
    unexpected: list[str] = []

    def pay() -> None:
        with httpx.Client(base_url=node.base_url, headers=headers, timeout=10) as client:
            for invoice in invoices:
                body = {
                    "destination_type": "INVOICE",
                    "destination_id": invoice["id"],
                    "amount": invoice["amount_due"],
                    "currency": "usd",
                    "payment_method_type": "CARD",
                    "payment_gateway": "stripe",
                    "payment_method_id": card,
                    "idempotency_key": keys[invoice["id"]],
                }
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        answer = client.post("/v1/payments", json=body)
                    except httpx.TransportError:  # no answer: resend it unchanged
                        time.sleep(0.05)
                        continue
                    if answer.status_code in (200, 201):
                        answered[invoice["id"]] = answer.json()
                    else:
                        unexpected.append(f"{answer.status_code} {answer.text[:300]}")
                    break

    localstripe.delay_answers(INTENTS, 0.5)
    try:
        client = threading.Thread(target=pay)
        client.start()
        killed: list[str] = []
        deadline = time.monotonic() + 120
        while len(killed) < KILLS and client.is_alive() and time.monotonic() < deadline:
            new = [k for k in _charge_keys(localstripe) if k in keys.values() and k not in killed]
            fresh = [k for k in new if seen_before[k] == 0]
            if fresh:
                # Stripe has made the charge and holds its answer: the server never hears it.
                node.kill()
                killed.append(fresh[0])
                seen_before[fresh[0]] += 1
                node.start()
            time.sleep(0.01)
        client.join(180)
    finally:
        localstripe.delay_answers(INTENTS, 0)
    assert not client.is_alive(), "the client did not finish"
    assert len(killed) == KILLS, killed
    assert not unexpected, unexpected
    assert set(answered) == set(keys)

    # The killed charges were retried with the same key: Stripe saw each key twice.
    sent = Counter(_charge_keys(localstripe))
    assert all(sent[key] == 2 for key in killed), sent
    # Every invoice paid once: one succeeded payment for its amount, one PaymentIntent.
    with httpx.Client(base_url=node.base_url, headers=headers, timeout=30) as http:
        payments = http.get("/v1/payments", params={"limit": 100}).json()["items"]
        by_invoice = Counter(
            p["destination_id"] for p in payments if p["payment_status"] == "SUCCEEDED"
        )
        assert by_invoice == Counter({i: 1 for i in keys}), [
            (a["payment_status"], a.get("error_message")) for a in answered.values()
        ]
        for invoice in invoices:
            status, paid, remaining, _ = amounts(http, invoice["id"])
            assert (status, remaining) == ("SUCCEEDED", "0"), invoice["id"]
            assert paid == invoice["amount_due"]
    intents = stripe.v1.payment_intents.list(params={"limit": 100}).data
    charged = Counter(
        pi.metadata.to_dict().get("invoice_id")
        for pi in intents
        if pi.status == "succeeded" and pi.metadata.to_dict().get("invoice_id") in keys
    )
    assert charged == Counter({i: 1 for i in keys}), charged
    for answer in answered.values():
        assert answer["payment_status"] == "SUCCEEDED"
