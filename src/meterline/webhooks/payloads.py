"""The bodies of webhook messages, in Flexprice's shape.

Each Flexprice event's body is the SDK's payload model for that event type
(``flexprice.models.WebhookDto*WebhookPayload``): ``{"event_type": …, <entity>: {…}}`` with
the entity in the SDK's ``WebhookDto*`` shape (decimals as strings, instants as RFC 3339 UTC,
metadata as a string map). Every key written here is a field of the SDK's model; the test
``tests/webhooks/test_payloads.py`` parses each body with the model of its type and checks
that no key is unknown to it.

Meterline-only events (no Flexprice equivalent) carry ``event_type`` and flat fields.

Pure apart from :func:`invoice_payload`, which reads the invoice's lines and customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.catalog.models import Feature
from meterline.credit_notes.models import CreditNote
from meterline.customers.models import Customer
from meterline.entitlements.models import Entitlement
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.money import MONEY_CONTEXT, decimal_text
from meterline.payments.models import CheckoutSession, Payment, Refund
from meterline.subscriptions.models import Subscription
from meterline.wallets.models import Wallet, WalletTransaction
from meterline.webhooks import repository

Body = dict[str, Any]


def text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _metadata(raw: dict[str, Any] | None) -> dict[str, str]:
    # Flexprice's metadata is a string map; Meterline's is one too at the wire, but JSON
    # written by other surfaces may hold numbers.
    return {str(k): v if isinstance(v, str) else str(v) for k, v in (raw or {}).items()}


def _dropping_none(entity: Body) -> Body:
    return {k: v for k, v in entity.items() if v is not None}


def customer(row: Customer) -> Body:
    return _dropping_none(
        {
            "id": row.id,
            "external_id": row.external_id,
            "name": row.name,
            "email": row.email,
            "address_city": row.address_city,
            "address_state": row.address_state,
            "address_postal_code": row.address_postal_code,
            "address_country": row.address_country,
            "timezone": row.timezone,
            "environment_id": row.environment_id,
            "metadata": _metadata(row.metadata_),
        }
    )


def feature(row: Feature) -> Body:
    return _dropping_none(
        {
            "id": row.id,
            "name": row.name,
            "lookup_key": row.lookup_key,
            "description": row.description,
            "type": row.type,
            "meter_id": row.meter_id,
            "unit_singular": row.unit_singular,
            "unit_plural": row.unit_plural,
            "metadata": _metadata(row.metadata_),
        }
    )


def entitlement(row: Entitlement) -> Body:
    limit = row.usage_limit
    return _dropping_none(
        {
            "id": row.id,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "feature_id": row.feature_id,
            "feature_type": row.feature_type,
            "is_enabled": row.is_enabled,
            "is_soft_limit": row.is_soft_limit,
            "static_value": row.static_value,
            # Flexprice's limit is an integer; Meterline's limits are whole numbers.
            "usage_limit": None if limit is None else int(limit),
            "usage_reset_period": row.usage_reset_period,
        }
    )


def subscription(row: Subscription) -> Body:
    return _dropping_none(
        {
            "id": row.id,
            "customer_id": row.customer_id,
            "plan_id": row.plan_id,
            "lookup_key": row.lookup_key,
            "subscription_status": row.subscription_status,
            "currency": row.currency,
            "billing_period": row.billing_period,
            "billing_period_count": row.billing_period_count,
            "start_date": iso(row.start_date),
            "end_date": iso(row.end_date),
            "current_period_start": iso(row.current_period_start),
            "current_period_end": iso(row.current_period_end),
            "cancelled_at": iso(row.cancelled_at),
            "cancel_at": iso(row.cancel_at),
            "cancel_at_period_end": row.cancel_at_period_end,
            "trial_start": iso(row.trial_start),
            "trial_end": iso(row.trial_end),
            "metadata": _metadata(row.metadata_),
        }
    )


def invoice_line(row: InvoiceLineItem) -> Body:
    return _dropping_none(
        {
            "id": row.id,
            "entity_id": row.entity_id,
            "entity_type": row.entity_type,
            "subscription_line_item_id": row.subscription_line_item_id,
            "plan_display_name": row.plan_display_name,
            "price_id": row.price_id,
            "price_type": row.price_type,
            "meter_id": row.meter_id,
            "meter_display_name": row.meter_display_name,
            "price_unit": row.price_unit,
            "price_unit_amount": text(row.price_unit_amount),
            "display_name": row.display_name,
            "amount": text(row.amount),
            "quantity": text(row.quantity),
            "adjusted_entitlement_quantity": text(row.adjusted_entitlement_quantity),
            "prepaid_credits_applied": text(row.prepaid_credits_applied),
            "line_item_discount": text(row.line_item_discount),
            "invoice_level_discount": text(row.invoice_level_discount),
            "currency": row.currency,
            "period_start": iso(row.period_start),
            "period_end": iso(row.period_end),
            "metadata": _metadata(row.metadata_),
        }
    )


def invoice(row: Invoice, lines: list[InvoiceLineItem], buyer: Customer | None = None) -> Body:
    body = _dropping_none(
        {
            "id": row.id,
            "environment_id": row.environment_id,
            "customer_id": row.customer_id,
            "subscription_id": row.subscription_id,
            "invoice_type": row.invoice_type,
            "invoice_status": row.invoice_status,
            "payment_status": row.payment_status,
            "currency": row.currency,
            "subtotal": text(row.subtotal),
            "total_discount": text(row.total_discount),
            "total_tax": text(row.total_tax),
            "total_prepaid_credits_applied": text(row.total_prepaid_credits_applied),
            "total": text(row.total),
            "amount_due": text(row.amount_due),
            "amount_paid": text(row.amount_paid),
            "amount_remaining": text(row.amount_remaining),
            "invoice_number": row.invoice_number,
            "idempotency_key": row.idempotency_key,
            "billing_sequence": row.billing_sequence,
            "billing_period": row.billing_period,
            "billing_reason": row.billing_reason,
            "description": row.description,
            "invoice_pdf_url": row.invoice_pdf_url,
            "due_date": iso(row.due_date),
            "paid_at": iso(row.paid_at),
            "voided_at": iso(row.voided_at),
            "finalized_at": iso(row.finalized_at),
            "period_start": iso(row.period_start),
            "period_end": iso(row.period_end),
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
            "metadata": _metadata(row.metadata_),
        }
    )
    body["line_items"] = [invoice_line(line) for line in lines]
    if buyer is not None:
        body["customer"] = customer(buyer)
    return body


def wallet(row: Wallet) -> Body:
    return _dropping_none(
        {
            "id": row.id,
            "customer_id": row.customer_id,
            "currency": row.currency,
            "name": row.name,
            "wallet_type": row.wallet_type,
            "wallet_status": row.wallet_status,
            "conversion_rate": text(row.conversion_rate),
            "credit_balance": text(row.credit_balance),
            "balance": text(MONEY_CONTEXT.multiply(row.credit_balance, row.conversion_rate)),
        }
    )


def wallet_transaction(row: WalletTransaction) -> Body:
    """``WebhookDtoWalletTransaction``."""
    return _dropping_none(
        {
            "id": row.id,
            "wallet_id": row.wallet_id,
            "customer_id": row.customer_id,
            "type": row.type,
            "amount": text(row.amount),
            "credit_amount": text(row.credit_amount),
            "credit_balance_before": text(row.credit_balance_before),
            "credit_balance_after": text(row.credit_balance_after),
            "transaction_status": row.transaction_status,
            "transaction_reason": row.transaction_reason,
            "reference_type": row.reference_type,
            "reference_id": row.reference_id,
            "description": row.description,
            "expiry_date": iso(row.expiry_date),
            "currency": row.currency,
            "metadata": _metadata(row.metadata_),
        }
    )


# -- whole bodies, one per payload model ------------------------------------------------


def customer_payload(event_type: str, row: Customer) -> Body:
    """``WebhookDtoCustomerWebhookPayload``."""
    return {"event_type": event_type, "customer": customer(row)}


def feature_payload(event_type: str, row: Feature) -> Body:
    """``WebhookDtoFeatureWebhookPayload``."""
    return {"event_type": event_type, "feature": feature(row)}


def entitlement_payload(event_type: str, row: Entitlement) -> Body:
    """``WebhookDtoEntitlementWebhookPayload``."""
    return {"event_type": event_type, "entitlement": entitlement(row)}


def subscription_payload(event_type: str, row: Subscription, owner: Customer | None) -> Body:
    """``WebhookDtoSubscriptionWebhookPayload``."""
    body: Body = {"event_type": event_type, "subscription": subscription(row)}
    if owner is not None:
        body["customer"] = customer(owner)
    return body


def invoice_payload(session: Session, event_type: str, row: Invoice) -> Body:
    """``WebhookDtoInvoiceWebhookPayload``: the invoice with its lines and customer."""
    lines = repository.invoice_lines(session, row.id)
    buyer = session.get(Customer, row.customer_id)
    return {"event_type": event_type, "invoice": invoice(row, lines, buyer)}


def wallet_payload(
    event_type: str,
    row: Wallet,
    owner: Customer | None,
    *,
    threshold: Decimal | None = None,
    state: str | None = None,
) -> Body:
    """``WebhookDtoWalletWebhookPayload``; ``threshold`` and ``state`` fill its ``alert``
    (Flexprice's low-credit-balance alert: ``in_alarm`` when dropped, ``ok`` recovered)."""
    body: Body = {"event_type": event_type, "wallet": wallet(row)}
    if owner is not None:
        body["customer"] = customer(owner)
    if threshold is not None:
        body["alert"] = {
            "alert_type": "low_credit_balance",
            "state": state,
            "credit_balance": text(row.credit_balance),
            "current_balance": text(row.credit_balance),
            "alert_settings": {
                "alert_enabled": True,
                "alert_threshold_type": "absolute",
                "critical": {"threshold": text(threshold), "condition": "below"},
            },
        }
    return body


def wallet_transaction_payload(event_type: str, row: WalletTransaction) -> Body:
    """``WebhookDtoTransactionWebhookPayload``."""
    return {"event_type": event_type, "transaction": wallet_transaction(row)}


def payment(row: Payment) -> Body:
    """``WebhookDtoPayment``."""
    return _dropping_none(
        {
            "id": row.id,
            "amount": text(row.amount),
            "currency": row.currency,
            "destination_id": row.destination_id,
            "destination_type": row.destination_type,
            "invoice_number": row.invoice_number,
            "payment_gateway": row.payment_gateway,
            "payment_method_type": row.payment_method_type,
            "payment_status": row.payment_status,
            "error_message": row.error_message,
            "succeeded_at": iso(row.succeeded_at),
            "failed_at": iso(row.failed_at),
            "refunded_at": iso(row.refunded_at),
            "voided_at": iso(row.voided_at),
        }
    )


def refund(row: Refund) -> Body:
    """``WebhookDtoRefund``."""
    return _dropping_none(
        {
            "id": row.id,
            "amount": text(row.amount),
            "settled_amount": text(row.settled_amount),
            "currency": row.currency,
            "attempt": row.attempt,
            "credit_note_id": row.credit_note_id,
            "invoice_id": row.invoice_id,
            "payment_id": row.payment_id,
            "payment_gateway": row.payment_gateway,
            "gateway_refund_id": row.gateway_refund_id,
            "refund_destination": row.refund_destination,
            "refund_destination_id": row.refund_destination_id,
            "refund_reason": row.refund_reason,
            "refund_status": row.refund_status,
            "failure_reason": row.failure_reason,
            "metadata": _metadata(row.metadata_),
            "failed_at": iso(row.failed_at),
            "succeeded_at": iso(row.succeeded_at),
        }
    )


def payment_payload(event_type: str, row: Payment) -> Body:
    """``WebhookDtoPaymentWebhookPayload``."""
    return {"event_type": event_type, "payment": payment(row)}


def checkout_session_payload(event_type: str, row: CheckoutSession) -> Body:
    """``WebhookDtoCheckoutSessionWebhookPayload``."""
    session = _dropping_none(
        {
            "id": row.id,
            "action": row.action,
            "customer_id": row.customer_id,
            "payment_provider": row.payment_provider,
            "checkout_status": row.checkout_status,
            "checkout_invoice_id": row.invoice_id,
            "checkout_payment_id": row.payment_id,
            "failure_reason": row.failure_reason,
            "expires_at": iso(row.expires_at),
            "completed_at": iso(row.completed_at),
            "cancelled_at": iso(row.cancelled_at),
        }
    )
    return {"event_type": event_type, "checkout_session": session}


def refund_payload(event_type: str, row: Refund) -> Body:
    """``WebhookDtoRefundWebhookPayload``."""
    return {"event_type": event_type, "refund": refund(row)}


def meterline_payload(event_type: str, fields: Body) -> Body:
    """A Meterline-only event: ``event_type`` and flat fields."""
    return {"event_type": event_type, **fields}


def wallet_alert_payload(
    event_type: str, row: Wallet, owner: Customer | None, config: Body, state: str
) -> Body:
    """``WebhookDtoWalletWebhookPayload`` of an alert setting on the wallet: its ``alert``
    carries the setting's config and the state it is in."""
    body: Body = {"event_type": event_type, "wallet": wallet(row)}
    if owner is not None:
        body["customer"] = customer(owner)
    body["alert"] = {
        "alert_type": "low_credit_balance",
        "state": state,
        "credit_balance": text(row.credit_balance),
        "current_balance": text(row.credit_balance),
        "alert_settings": config,
    }
    return body


def spend_alert_payload(
    row: Subscription,
    owner: Customer | None,
    *,
    alert_type: str,
    alert_status: str,
    spend: Decimal,
    threshold: Decimal | None,
    line_item_id: str | None,
    at: datetime,
) -> Body:
    """``WebhookDtoSpendAlertEvent``: the SDK's model has no ``event_type`` (the message's
    type says which event it is); ``alert_status`` is ``ok`` on a recovery."""
    sub = subscription(row)
    if owner is not None:
        sub["customer"] = customer(owner)
    return _dropping_none(
        {
            "alert_type": alert_type,
            "alert_status": alert_status,
            "current_spend": text(spend),
            "threshold": text(threshold),
            "subscription": sub,
            "subscription_line_item_id": line_item_id,
            "triggered_at": iso(at),
        }
    )


def credit_note_payload(event_type: str, row: CreditNote) -> Body:
    """``WebhookDtoCreditNoteWebhookPayload``."""
    note = _dropping_none(
        {
            "id": row.id,
            "credit_note_number": row.credit_note_number,
            "credit_note_status": row.credit_note_status,
            "credit_note_type": row.credit_note_type,
            "currency": row.currency,
            "customer_id": row.customer_id,
            "invoice_id": row.invoice_id,
            "subscription_id": row.subscription_id,
            "reason": row.reason,
            "memo": row.memo,
            "total_amount": text(row.total_amount),
            "metadata": dict(row.metadata_ or {}),
            "finalized_at": iso(row.finalized_at),
            "voided_at": iso(row.voided_at),
        }
    )
    return {"event_type": event_type, "credit_note": note}
