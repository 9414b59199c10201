"""The Stripe provider, through the official ``stripe`` package.

* A charge is a PaymentIntent of the amount in the currency's minor units, on the Stripe
  customer the Meterline customer is mapped to, with the given card (or the customer's
  first saved card), confirmed off-session; the payment's idempotency key is sent as
  Stripe's ``Idempotency-Key``, so a retried charge returns the first PaymentIntent.
* A checkout creates the PaymentIntent unconfirmed: the customer completes it (Stripe.js
  confirms it with their card) and the checkout session reads its status.
* A refund is a Stripe Refund of the PaymentIntent, with its own idempotency key.
* A declined card is ``FAILED`` with Stripe's message; Stripe unreachable (or any other
  Stripe error) is ``FAILED`` with ``stripe unavailable: …``. Nothing raises to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import stripe

from meterline.kernel.money import minor_units
from meterline.payments.providers import STRIPE, Charge, Outcome, ProviderUnavailable, SavedMethod
from meterline.settings import PaymentSettings

# PaymentIntent statuses and what they mean for a payment.
_STATUS = {
    "succeeded": "SUCCEEDED",
    "processing": "PROCESSING",
    "requires_action": "PENDING",
    "requires_confirmation": "PENDING",
    "requires_payment_method": "PENDING",
    "requires_capture": "PROCESSING",
    "canceled": "VOIDED",
}


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit (already rounded to it by the caller)."""
    return int(amount.scaleb(minor_units(currency)))


def _error(exc: stripe.StripeError) -> str:
    if isinstance(exc, stripe.CardError):
        return exc.user_message or str(exc) or "the card was declined"
    message = exc.user_message or str(exc) or type(exc).__name__
    return f"stripe unavailable: {message}"[:2000]


class StripeProvider:
    name = STRIPE

    def __init__(self, settings: PaymentSettings) -> None:
        assert settings.stripe_api_key
        self._client = stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses={"api": settings.stripe_base_url.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
        )

    def ensure_customer(self, name: str | None, email: str | None, reference: str) -> str:
        params: dict[str, Any] = {"metadata": {"meterline_customer_id": reference}}
        if name:
            params["name"] = name
        if email:
            params["email"] = email
        try:
            created = self._client.v1.customers.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"customer-{reference}"},
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(_error(exc)) from exc
        return str(created.id)

    def _outcome(self, intent: Any) -> Outcome:
        status = _STATUS.get(str(intent.status), "PENDING")
        error = None
        last = getattr(intent, "last_payment_error", None)
        if status == "PENDING" and last:
            status, error = "FAILED", str(getattr(last, "message", None) or "declined")
        return Outcome(status, str(intent.id), error, {"stripe_status": str(intent.status)})

    def charge(self, charge: Charge) -> Outcome:
        params: dict[str, Any] = {
            "amount": to_minor(charge.amount, charge.currency),
            "currency": charge.currency.lower(),
            "metadata": charge.metadata,
        }
        if charge.provider_customer_id:
            params["customer"] = charge.provider_customer_id
        if charge.payment_method_id:
            params["payment_method"] = charge.payment_method_id
        if charge.confirm:
            params["confirm"] = True
            params["off_session"] = True
        try:
            intent = self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": charge.idempotency_key},
            )
        except stripe.StripeError as exc:
            intent_id = None
            body = getattr(exc, "json_body", None) or {}
            error_body = body.get("error") if isinstance(body, dict) else None
            if isinstance(error_body, dict):
                intent_id = (error_body.get("payment_intent") or {}).get("id")
            return Outcome("FAILED", intent_id, _error(exc))
        return self._outcome(intent)

    def charge_status(self, gateway_id: str) -> Outcome:
        try:
            intent = self._client.v1.payment_intents.retrieve(gateway_id)
        except stripe.StripeError as exc:
            return Outcome("FAILED", gateway_id, _error(exc))
        return self._outcome(intent)

    def cancel_charge(self, gateway_id: str) -> Outcome:
        try:
            intent = self._client.v1.payment_intents.cancel(gateway_id)
        except stripe.StripeError as exc:
            return Outcome("FAILED", gateway_id, _error(exc))
        return self._outcome(intent)

    def refund(
        self, gateway_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> Outcome:
        try:
            refund = self._client.v1.refunds.create(
                params={"payment_intent": gateway_id, "amount": to_minor(amount, currency)},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            return Outcome("FAILED", None, _error(exc))
        status = {"succeeded": "SUCCEEDED", "failed": "FAILED", "canceled": "CANCELLED"}.get(
            str(refund.status), "PENDING"
        )
        return Outcome(status, str(refund.id))

    def payment_methods(self, provider_customer_id: str) -> Sequence[SavedMethod]:
        try:
            found = self._client.v1.payment_methods.list(
                params={"customer": provider_customer_id, "type": "card", "limit": 100}
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(_error(exc)) from exc
        out = []
        for index, method in enumerate(found.data):
            card = getattr(method, "card", None)
            out.append(
                SavedMethod(
                    id=str(method.id),
                    type="CARD",
                    brand=getattr(card, "brand", None),
                    last4=getattr(card, "last4", None),
                    exp_month=getattr(card, "exp_month", None),
                    exp_year=getattr(card, "exp_year", None),
                    is_default=index == 0,
                )
            )
        return out
