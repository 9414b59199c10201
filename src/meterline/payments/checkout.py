"""Checkout sessions: a hosted payment the customer completes at the provider.

* Only ``pay_invoice`` is built (``configuration.pay_invoice_params.invoice_id``), through
  ``stripe``: creating the session records a CARD payment of what the invoice has left and
  creates its charge unconfirmed (a Stripe PaymentIntent the customer confirms with Stripe.js);
  the other actions and providers are refused by name.
* Reading the session asks the provider where the charge stands: completed (the payment
  succeeded and was applied to the invoice), failed (with the provider's reason) or still
  pending. A session not completed within its hour expires.
* Cancelling cancels the charge (the payment is VOIDED); deleting hides the session and
  cancels it first when it is still open.
* ``idempotency_key``: the same key returns the first session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.payments import repository
from meterline.payments import service as payments
from meterline.payments.models import CHECKOUT_ACTIONS, CheckoutSession
from meterline.payments.providers import STRIPE, Charge, Outcome
from meterline.payments.registry import Providers
from meterline.pricing.plans import flush_unique
from meterline.webhooks import notify

LIFETIME = timedelta(hours=1)
OPEN = ("initiated", "pending")


@dataclass(frozen=True)
class NewCheckout:
    action: str
    customer_external_id: str
    payment_provider: str
    invoice_id: str | None
    success_url: str | None = None
    cancel_url: str | None = None
    failure_url: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, str] | None = None


def create_checkout(
    session: Session, principal: Principal, providers: Providers, data: NewCheckout
) -> CheckoutSession:
    if data.action not in CHECKOUT_ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(CHECKOUT_ACTIONS)}", field="action")
    if data.action != "pay_invoice":
        raise InvalidRequest(
            f"the checkout action {data.action} is not supported yet: only pay_invoice",
            field="action",
            details={"allowed_values": ["pay_invoice"], "provided_value": data.action},
        )
    if data.payment_provider != STRIPE:
        raise InvalidRequest(
            f"payment_provider {data.payment_provider} is not supported: only stripe",
            field="payment_provider",
            details={"allowed_values": [STRIPE], "provided_value": data.payment_provider},
        )
    provider = providers.get(data.payment_provider, "payment_provider")
    env = principal.environment_id
    if data.idempotency_key:
        earlier = repository.checkout_by_key(session, env, data.idempotency_key)
        if earlier is not None:
            return earlier
    if not data.invoice_id:
        raise InvalidRequest(
            "pay_invoice needs configuration.pay_invoice_params.invoice_id",
            field="configuration.pay_invoice_params.invoice_id",
        )
    customer = customers.get_customer_by_external_id(session, principal, data.customer_external_id)
    invoice = payments.invoice_for_payment(session, principal, data.invoice_id)
    if invoice.customer_id != customer.id:
        raise InvalidRequest(
            "the invoice is not the customer's",
            field="configuration.pay_invoice_params.invoice_id",
        )
    payment = payments.create_payment(
        session,
        principal,
        providers,
        payments.NewPayment(
            amount=invoice.amount_remaining,
            currency=invoice.currency,
            destination_type="INVOICE",
            destination_id=invoice.id,
            payment_method_type="CARD",
            payment_gateway=STRIPE,
            process_payment=False,
        ),
    )
    row = CheckoutSession(
        id=new_id("chk"),
        environment_id=env,
        customer_id=customer.id,
        action=data.action,
        payment_provider=data.payment_provider,
        checkout_status="initiated",
        invoice_id=invoice.id,
        payment_id=payment.id,
        success_url=data.success_url,
        cancel_url=data.cancel_url,
        failure_url=data.failure_url,
        idempotency_key=data.idempotency_key or None,
        metadata_=dict(data.metadata or {}),
        expires_at=utcnow() + LIFETIME,
    )
    session.add(row)
    flush_unique(session, "A checkout session with this idempotency_key")
    notify.checkout_status_changed(session, row, None)
    payment.attempt_count += 1
    customer_ref = payments.provider_customer(session, providers, env, customer.id, STRIPE)
    outcome = provider.charge(
        Charge(
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=f"checkout-{row.id}",
            provider_customer_id=customer_ref,
            payment_method_id=None,
            metadata={"meterline_payment_id": payment.id, "checkout_session_id": row.id},
            confirm=False,
        )
    )
    payments.record_outcome(session, payment, outcome, utcnow())
    _follow(session, row, payment.payment_status, outcome)
    session.flush()
    return row


def _follow(session: Session, row: CheckoutSession, payment_status: str, outcome: Outcome) -> None:
    """The session's status from its payment's; a change sends its webhook event."""
    previous = row.checkout_status
    now = utcnow()
    if payment_status == "SUCCEEDED":
        row.checkout_status = "completed"
        row.completed_at = now
    elif payment_status == "FAILED":
        row.checkout_status = "failed"
        row.failure_reason = outcome.error
    elif payment_status == "VOIDED":
        row.checkout_status = "failed"
        row.failure_reason = row.failure_reason or "cancelled"
    elif row.expires_at is not None and now >= row.expires_at:
        row.checkout_status = "expired"
    elif outcome.metadata.get("stripe_status") in ("requires_confirmation", "processing"):
        row.checkout_status = "pending"
    row.updated_at = now
    notify.checkout_status_changed(session, row, previous)


def get_checkout(
    session: Session, principal: Principal, providers: Providers, session_id: str
) -> CheckoutSession:
    """The session, brought up to date with its charge at the provider."""
    found = repository.checkout_session(session, principal.environment_id, session_id)
    row = existing(found, "checkout session", session_id)
    if row.checkout_status not in OPEN or row.payment_id is None:
        return row
    payment = payments.locked_payment(session, principal, row.payment_id)
    if payment.gateway_payment_id is None or payment.payment_status not in (
        "PENDING",
        "PROCESSING",
    ):
        return row
    outcome = providers.get(row.payment_provider).charge_status(payment.gateway_payment_id)
    if outcome.status != payment.payment_status:
        payments.record_outcome(session, payment, outcome, utcnow())
    _follow(session, row, payment.payment_status, outcome)
    session.flush()
    return row


def cancel_checkout(
    session: Session, principal: Principal, providers: Providers, session_id: str
) -> CheckoutSession:
    row = get_checkout(session, principal, providers, session_id)
    if row.checkout_status not in OPEN:
        raise InvalidOperation(
            f"a {row.checkout_status} checkout session cannot be cancelled",
            details={"checkout_status": row.checkout_status},
        )
    now = utcnow()
    if row.payment_id is not None:
        payment = payments.locked_payment(session, principal, row.payment_id)
        if payment.gateway_payment_id is not None:
            providers.get(row.payment_provider).cancel_charge(payment.gateway_payment_id)
        payment.payment_status = "VOIDED"
        payment.voided_at = now
    previous = row.checkout_status
    row.checkout_status = "failed"
    row.failure_reason = "cancelled"
    row.cancelled_at = now
    row.updated_at = now
    notify.checkout_status_changed(session, row, previous)
    session.flush()
    return row


def delete_checkout(
    session: Session, principal: Principal, providers: Providers, session_id: str
) -> None:
    row = get_checkout(session, principal, providers, session_id)
    if row.checkout_status in OPEN:
        cancel_checkout(session, principal, providers, session_id)
    row.status = "deleted"
    row.updated_at = utcnow()
    session.flush()


def payment_status_of(session: Session, row: CheckoutSession) -> str | None:
    if row.payment_id is None:
        return None
    found = repository.payment(session, row.environment_id, row.payment_id)
    return None if found is None else found.payment_status
