"""Payment rules: record, process, read, change and remove payments, and apply them to
invoices.

* A payment pays an INVOICE (finalized, with something left to pay, in the invoice's
  currency) or is credit held for a CUSTOMER (offline only). Its amount is above 0 with at
  most the currency's minor units; above what the invoice has left it is refused (400),
  except offline, where the vendor records what was received: the invoice is then OVERPAID
  and the excess held as the customer's credit (``held_credit``), which pays the customer's
  later invoices in its currency when they are finalized (payments/held_credit.py).
* ``payment_method_type`` OFFLINE is the offline provider (no gateway); CARD is Stripe
  (``payment_gateway`` stripe). Other methods and gateways are refused by name.
* ``idempotency_key``: a payment is recorded once per key; the same key again returns it
  (a 409 if it was for another destination or amount). The key (or the payment id) reaches
  the provider with each charge, so a retried process never charges twice.
* Processing charges through the provider. SUCCEEDED adds the amount to the invoice's
  ``amount_paid`` (SUCCEEDED, or OVERPAID past what was due, or PENDING while short);
  FAILED records the provider's error on the payment and the attempt and leaves the
  invoice's amounts as they were (its payment_status FAILED if nothing was paid yet).
* Only a payment that moved no money can be deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import repository as customer_rows
from meterline.customers import service as customers
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.invoicing import repository as invoice_rows
from meterline.invoicing.models import Invoice
from meterline.invoicing.paid import record_paid
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import in_money_context, is_currency, minor_units, round_money
from meterline.payments import mappings, repository
from meterline.payments.models import (
    DESTINATION_TYPES,
    METHOD_TYPES,
    PAYMENT_STATUSES,
    ZERO,
    IntegrationMapping,
    Payment,
    PaymentAttempt,
)
from meterline.payments.providers import (
    OFFLINE,
    STRIPE,
    Charge,
    Outcome,
    PaymentProvider,
    ProviderUnavailable,
    SavedMethod,
)
from meterline.payments.registry import Providers
from meterline.pricing.plans import flush_unique
from meterline.webhooks import notify

SUPPORTED_METHODS = ("OFFLINE", "CARD")
PAID = ("SUCCEEDED", "OVERPAID")
PROCESSABLE = ("INITIATED", "PENDING", "FAILED")
DELETABLE = ("INITIATED", "PENDING", "FAILED", "VOIDED")
# What update_payment may set a payment's status to, and from which statuses (offline only:
# the vendor saying the transfer arrived or bounced).
SETTABLE = ("SUCCEEDED", "FAILED")
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class NewPayment:
    amount: Decimal
    currency: str
    destination_type: str
    destination_id: str
    payment_method_type: str
    payment_gateway: str | None = None
    payment_method_id: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, str] | None = None
    process_payment: bool = True


@dataclass(frozen=True)
class PaymentChanges:
    metadata: dict[str, str] | None = None
    payment_status: str | None = None
    gateway_tracking_id: str | None = None
    error_message: str | None = None


def _choice(value: str, allowed: Sequence[str], field_name: str) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"{field_name} must be one of {', '.join(allowed)}",
            field=field_name,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def _invoice(session: Session, principal: Principal, invoice_id: str, *, lock: bool) -> Invoice:
    found = invoice_rows.get(session, principal.environment_id, invoice_id, lock=lock)
    return existing(found, "invoice", invoice_id)


def _payable(invoice: Invoice) -> None:
    if invoice.invoice_status != "FINALIZED":
        raise InvalidOperation(
            f"payments are made on finalized invoices; this one is {invoice.invoice_status}",
            details={"invoice_status": invoice.invoice_status},
        )
    if invoice.amount_remaining <= 0:
        raise Conflict(
            "the invoice has nothing left to pay",
            details={"payment_status": invoice.payment_status, "amount_remaining": "0"},
            reason="already_paid",
        )


def _check_amount(amount: Decimal, currency: str) -> None:
    units = minor_units(currency)
    if not amount.is_finite() or amount <= 0 or round_money(amount, units) != amount:
        raise InvalidRequest(
            f"amount must be above 0 with at most {units} decimals in {currency.upper()}",
            field="amount",
        )


def _method(data: NewPayment) -> str:
    method = _choice(data.payment_method_type, METHOD_TYPES, "payment_method_type")
    if method not in SUPPORTED_METHODS:
        raise InvalidRequest(
            f"payment_method_type {method} is not supported: use OFFLINE (recorded by the "
            "vendor) or CARD (through stripe)",
            field="payment_method_type",
            details={"allowed_values": list(SUPPORTED_METHODS), "provided_value": method},
        )
    if method == "OFFLINE" and data.payment_gateway not in (None, OFFLINE):
        raise InvalidRequest("an OFFLINE payment has no payment_gateway", field="payment_gateway")
    if method == "CARD" and data.payment_gateway != STRIPE:
        raise InvalidRequest(
            "a CARD payment goes through payment_gateway stripe", field="payment_gateway"
        )
    return method


def _provider_of(providers: Providers, payment: Payment) -> PaymentProvider:
    return providers.get(payment.payment_gateway)


def _same_request(earlier: Payment, data: NewPayment) -> None:
    if (earlier.destination_id, earlier.amount) != (data.destination_id, data.amount):
        raise Conflict(
            "idempotency_key was already used for another payment",
            details={"payment_id": earlier.id},
            reason="idempotency_key_reused",
        )


def provider_customer(
    session: Session, providers: Providers, environment_id: str, customer_id: str, gateway: str
) -> str | None:
    """The provider's customer for ``customer_id``: its mapping, else one made now and
    mapped (None when the provider cannot make one now: the charge then fails)."""
    known = mappings.provider_id_of(session, environment_id, "customer", customer_id, gateway)
    if known is not None:
        return known
    provider = providers.get(gateway)
    from_db = existing(
        customer_rows.by_id(session, environment_id, customer_id), "customer", customer_id
    )
    try:
        made = provider.ensure_customer(from_db.name, from_db.email, customer_id)
    except ProviderUnavailable:
        return None
    session.add(
        IntegrationMapping(
            id=new_id("map"),
            environment_id=environment_id,
            entity_type="customer",
            entity_id=customer_id,
            provider_type=gateway,
            provider_entity_id=made,
            metadata_={"created_by_provider": "true"},
        )
    )
    session.flush()
    return made


def _known_method(
    session: Session, providers: Providers, environment_id: str, customer_id: str, data: NewPayment
) -> None:
    """A CARD payment's ``payment_method_id`` must be one of the customer's saved cards."""
    if data.payment_method_id is None:
        return
    assert data.payment_gateway is not None
    stripe_customer = mappings.provider_id_of(
        session, environment_id, "customer", customer_id, data.payment_gateway
    )
    saved: Sequence[SavedMethod] = ()
    if stripe_customer is not None:
        try:
            saved = providers.get(data.payment_gateway).payment_methods(stripe_customer)
        except ProviderUnavailable:
            return  # cannot tell now: the charge will say
    if data.payment_method_id not in {m.id for m in saved}:
        raise InvalidRequest(
            "the customer has no such saved payment method",
            field="payment_method_id",
            details={"provided_value": data.payment_method_id},
            reason="unknown_payment_method",
        )


@in_money_context
def create_payment(
    session: Session, principal: Principal, providers: Providers, data: NewPayment
) -> Payment:
    env = principal.environment_id
    _choice(data.destination_type, DESTINATION_TYPES, "destination_type")
    method = _method(data)
    if not is_currency(data.currency):
        raise InvalidRequest("currency is not an ISO 4217 code", field="currency")
    currency = data.currency.lower()
    _check_amount(data.amount, currency)
    if data.idempotency_key:
        earlier = repository.payment_by_key(session, env, data.idempotency_key)
        if earlier is not None:
            _same_request(earlier, data)
            return earlier
    if method == "CARD":
        providers.get(data.payment_gateway)  # configured, or a 400 now
    invoice: Invoice | None = None
    if data.destination_type == "INVOICE":
        invoice = _invoice(session, principal, data.destination_id, lock=True)
        customer_id = invoice.customer_id
        if invoice.currency.lower() != currency:
            raise InvalidRequest(
                f"the invoice is in {invoice.currency.upper()}, not {currency.upper()}",
                field="currency",
                details={"invoice_currency": invoice.currency},
                reason="currency_mismatch",
            )
        _payable(invoice)
        if data.amount > invoice.amount_remaining and method != "OFFLINE":
            raise InvalidRequest(
                f"amount is above what the invoice has left to pay ({invoice.amount_remaining})",
                field="amount",
                details={"amount_remaining": str(invoice.amount_remaining)},
                reason="above_amount_due",
            )
    else:
        if method != "OFFLINE":
            raise InvalidRequest(
                "a CUSTOMER payment (credit held for the customer) is recorded offline",
                field="destination_type",
            )
        customer_id = customers.get_customer(session, principal, data.destination_id).id
    if method == "CARD":
        _known_method(session, providers, env, customer_id, data)
    payment = Payment(
        id=new_id("pay"),
        environment_id=env,
        customer_id=customer_id,
        destination_type=data.destination_type,
        destination_id=data.destination_id,
        invoice_number=invoice.invoice_number if invoice is not None else None,
        amount=data.amount,
        currency=currency,
        payment_method_type=method,
        payment_method_id=data.payment_method_id,
        payment_gateway=data.payment_gateway if method == "CARD" else None,
        payment_status="PENDING",
        idempotency_key=data.idempotency_key or None,
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(payment)
    flush_unique(session, "A payment with this idempotency_key")
    notify.payment_changed(session, payment, "created")
    if data.process_payment:
        _process(session, principal, providers, payment)
    else:
        notify.payment_status_changed(session, payment, "INITIATED")  # awaiting: pending
    return payment


def _charge_key(payment: Payment) -> str:
    # One charge per payment: Stripe answers a retry with the same key with the first
    # PaymentIntent (a failed attempt is retried as a new charge: see _process).
    base = payment.idempotency_key or payment.id
    return base if payment.attempt_count <= 1 else f"{base}-attempt-{payment.attempt_count}"


@in_money_context
def apply_to_invoice(session: Session, payment: Payment, invoice: Invoice, now: datetime) -> None:
    """Adds a succeeded payment to its invoice; what it pays past what was left is held."""
    previous = invoice.payment_status
    left = invoice.amount_remaining
    payment.held_credit = max(ZERO, payment.amount - left)
    record_paid(invoice, payment.amount, now)
    invoice.version += 1
    session.flush()
    notify.invoice_payment_changed(session, invoice, previous)


def _failed_on_invoice(session: Session, invoice: Invoice) -> None:
    previous = invoice.payment_status
    if invoice.amount_paid == 0 and invoice.payment_status in (
        "PENDING",
        "PROCESSING",
        "INITIATED",
    ):
        invoice.payment_status = "FAILED"
        invoice.version += 1
        session.flush()
        notify.invoice_payment_changed(session, invoice, previous)


def record_outcome(session: Session, payment: Payment, outcome: Outcome, now: datetime) -> None:
    """A provider's answer on the payment, its attempt and (when it paid) its invoice."""
    previous = payment.payment_status
    session.add(
        PaymentAttempt(
            id=new_id("attempt"),
            environment_id=payment.environment_id,
            payment_id=payment.id,
            attempt_number=payment.attempt_count,
            payment_status=outcome.status,
            error_message=outcome.error,
            gateway_payment_id=outcome.gateway_id,
            metadata_=dict(outcome.metadata),
        )
    )
    if outcome.gateway_id:
        payment.gateway_payment_id = outcome.gateway_id
    payment.gateway_metadata = {**payment.gateway_metadata, **outcome.metadata}
    payment.updated_at = now
    invoice = None
    if payment.destination_type == "INVOICE":
        invoice = invoice_rows.get(
            session, payment.environment_id, payment.destination_id, lock=True
        )
    if outcome.status == "SUCCEEDED":
        payment.payment_status = "SUCCEEDED"
        payment.succeeded_at = now
        payment.error_message = None
        if invoice is not None:
            apply_to_invoice(session, payment, invoice, now)
        else:
            payment.held_credit = payment.amount
    elif outcome.status == "FAILED":
        payment.payment_status = "FAILED"
        payment.failed_at = now
        payment.error_message = outcome.error
        if invoice is not None:
            _failed_on_invoice(session, invoice)
    else:
        payment.payment_status = outcome.status
    session.flush()
    notify.payment_status_changed(session, payment, previous)


def _process(
    session: Session, principal: Principal, providers: Providers, payment: Payment
) -> None:
    if payment.payment_status not in PROCESSABLE:
        raise InvalidOperation(
            f"only a pending or failed payment can be processed; this one is "
            f"{payment.payment_status}",
            details={"payment_status": payment.payment_status},
        )
    if payment.attempt_count >= MAX_ATTEMPTS:
        raise InvalidOperation(f"the payment was attempted {MAX_ATTEMPTS} times already")
    if payment.destination_type == "INVOICE":
        invoice = _invoice(session, principal, payment.destination_id, lock=True)
        _payable(invoice)
        if payment.amount > invoice.amount_remaining and payment.payment_method_type != "OFFLINE":
            raise InvalidRequest(
                f"amount is above what the invoice has left to pay ({invoice.amount_remaining})",
                field="amount",
                details={"amount_remaining": str(invoice.amount_remaining)},
                reason="above_amount_due",
            )
    provider = _provider_of(providers, payment)
    payment.attempt_count += 1
    customer_ref = None
    if payment.payment_gateway is not None:
        customer_ref = provider_customer(
            session, providers, payment.environment_id, payment.customer_id, payment.payment_gateway
        )
    outcome = provider.charge(
        Charge(
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=_charge_key(payment),
            provider_customer_id=customer_ref,
            payment_method_id=payment.payment_method_id or _default_method(provider, customer_ref),
            metadata=_charge_metadata(payment),
        )
    )
    record_outcome(session, payment, outcome, utcnow())


def _charge_metadata(payment: Payment) -> dict[str, str]:
    """What a charge tells the provider about its payment. A payment made with an
    idempotency key is named by the key, not by its id: a request resent after a crash
    that rolled the payment back records it again under a new id, and the provider answers
    a repeated key only when every parameter is the same (Stripe refuses it otherwise, after
    the first charge went through)."""
    if payment.idempotency_key:
        named = {"meterline_idempotency_key": payment.idempotency_key}
    else:
        named = {"meterline_payment_id": payment.id}
    return {**named, "invoice_id": payment.destination_id}


def _default_method(provider: PaymentProvider, customer_ref: str | None) -> str | None:
    if customer_ref is None or provider.name == OFFLINE:
        return None
    try:
        saved = provider.payment_methods(customer_ref)
    except ProviderUnavailable:
        return None
    defaults = [m.id for m in saved if m.is_default] or [m.id for m in saved]
    return defaults[0] if defaults else None


def invoice_for_payment(session: Session, principal: Principal, invoice_id: str) -> Invoice:
    """The invoice, locked, if it can be paid now."""
    invoice = _invoice(session, principal, invoice_id, lock=True)
    _payable(invoice)
    return invoice


def locked_payment(session: Session, principal: Principal, payment_id: str) -> Payment:
    found = repository.payment(session, principal.environment_id, payment_id, lock=True)
    return existing(found, "payment", payment_id)


def process_payment(
    session: Session, principal: Principal, providers: Providers, payment_id: str
) -> Payment:
    payment = locked_payment(session, principal, payment_id)
    _process(session, principal, providers, payment)
    return payment


def attempt_invoice_payment(
    session: Session, principal: Principal, providers: Providers, invoice_id: str
) -> Payment:
    """Charges what the invoice has left to the customer's saved card at the provider the
    customer is linked to (stripe); a 400 when they have none."""
    invoice = _invoice(session, principal, invoice_id, lock=True)
    _payable(invoice)
    linked = mappings.provider_id_of(
        session, principal.environment_id, "customer", invoice.customer_id, STRIPE
    )
    if linked is None or not providers.stripe_configured:
        raise InvalidOperation(
            "the customer has no payment provider to charge: link them to a stripe customer "
            "with a saved card, or record an offline payment",
            reason="no_payment_method",
        )
    return create_payment(
        session,
        principal,
        providers,
        NewPayment(
            amount=invoice.amount_remaining,
            currency=invoice.currency,
            destination_type="INVOICE",
            destination_id=invoice.id,
            payment_method_type="CARD",
            payment_gateway=STRIPE,
        ),
    )


def get_payment(session: Session, principal: Principal, payment_id: str) -> Payment:
    found = repository.payment(session, principal.environment_id, payment_id)
    return existing(found, "payment", payment_id)


def attempts_of(session: Session, payments: Sequence[Payment]) -> dict[str, list[PaymentAttempt]]:
    return repository.attempts_of(session, [p.id for p in payments])


def list_payments(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Payment], int]:
    for name, allowed in (
        ("payment_status", PAYMENT_STATUSES),
        ("payment_method_type", METHOD_TYPES),
        ("destination_type", DESTINATION_TYPES),
    ):
        if filters.get(name) is not None:
            _choice(filters[name], allowed, name)
    if filters.get("currency"):
        filters["currency"] = str(filters["currency"]).lower()
    return repository.search_payments(
        session,
        principal.environment_id,
        repository.PaymentQuery(**filters),
        limit=limit,
        offset=offset,
    )


def update_payment(
    session: Session, principal: Principal, payment_id: str, changes: PaymentChanges
) -> Payment:
    payment = locked_payment(session, principal, payment_id)
    now = utcnow()
    if changes.metadata is not None:
        payment.metadata_ = {**payment.metadata_, **changes.metadata}
    if changes.gateway_tracking_id is not None:
        payment.gateway_tracking_id = changes.gateway_tracking_id
    if changes.payment_status is not None and changes.payment_status != payment.payment_status:
        _choice(changes.payment_status, SETTABLE, "payment_status")
        if payment.payment_method_type != "OFFLINE":
            raise InvalidOperation(
                "only an offline payment's status is set by hand; a provider's payment "
                "follows the provider",
                details={"payment_gateway": payment.payment_gateway},
            )
        if payment.payment_status not in ("INITIATED", "PENDING"):
            raise InvalidOperation(
                f"a {payment.payment_status} payment's status cannot change by hand",
                details={"payment_status": payment.payment_status},
            )
        if payment.destination_type == "INVOICE" and changes.payment_status == "SUCCEEDED":
            _payable(_invoice(session, principal, payment.destination_id, lock=True))
        payment.attempt_count += 1
        outcome = Outcome(changes.payment_status, None, changes.error_message or None)
        if outcome.status == "FAILED" and outcome.error is None:
            outcome = Outcome("FAILED", None, "marked failed by the vendor")
        record_outcome(session, payment, outcome, now)
    elif changes.error_message is not None:
        raise InvalidRequest(
            "error_message is set with payment_status FAILED", field="error_message"
        )
    payment.updated_by = principal.user_id
    payment.updated_at = now
    session.flush()
    notify.payment_changed(session, payment, "updated")
    return payment


def delete_payment(session: Session, principal: Principal, payment_id: str) -> None:
    payment = locked_payment(session, principal, payment_id)
    if payment.payment_status not in DELETABLE:
        raise InvalidOperation(
            f"a {payment.payment_status} payment moved money and cannot be deleted",
            details={"payment_status": payment.payment_status},
        )
    payment.status = "deleted"
    payment.updated_at = utcnow()
    payment.updated_by = principal.user_id
    session.flush()


def payment_methods(
    session: Session,
    principal: Principal,
    providers: Providers,
    customer_id: str,
    wanted: Sequence[str] | None,
) -> list[tuple[str, list[SavedMethod], str | None]]:
    """Per provider (stripe, when configured or asked for): the customer's saved methods, or
    the provider's error."""
    customers.get_customer(session, principal, customer_id)
    names = list(wanted) if wanted else ([STRIPE] if providers.stripe_configured else [])
    out: list[tuple[str, list[SavedMethod], str | None]] = []
    for name in names:
        provider = providers.get(name, "providers")
        linked = mappings.provider_id_of(
            session, principal.environment_id, "customer", customer_id, name
        )
        if linked is None:
            out.append((name, [], None))
            continue
        try:
            out.append((name, list(provider.payment_methods(linked)), None))
        except ProviderUnavailable as exc:
            out.append((name, [], str(exc)))
    return out
