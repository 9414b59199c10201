"""/v1 checkout sessions: create (201), get, cancel, delete (204). Only ``pay_invoice``
through ``stripe`` is built (payments/checkout.py); ``entity_creation_options``,
``payment_provider_config`` and the configuration of the other actions are refused by name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.flexprice.payments import PaymentProviders
from meterline.api.json import iso, json_response
from meterline.payments import checkout
from meterline.payments.checkout import OPEN
from meterline.payments.models import CheckoutSession

router = APIRouter(tags=["checkout"])


class PayInvoiceParamsIn(WireModel):
    invoice_id: str = Field(min_length=1, max_length=64)


class CheckoutConfigurationIn(WireModel):
    unsupported = frozenset(
        {
            "add_addon_batch_params",
            "add_addon_params",
            "create_subscription_params",
            "modify_subscription_params",
            "wallet_topup_params",
        }
    )
    pay_invoice_params: PayInvoiceParamsIn | None = None


class CheckoutIn(WireModel):
    unsupported = frozenset({"entity_creation_options", "payment_provider_config"})
    action: str = Field(max_length=40)
    customer_external_id: str = Field(min_length=1, max_length=255)
    payment_provider: str = Field(max_length=20)
    configuration: CheckoutConfigurationIn | None = None
    success_url: str | None = Field(default=None, max_length=2000)
    cancel_url: str | None = Field(default=None, max_length=2000)
    failure_url: str | None = Field(default=None, max_length=2000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


def checkout_out(row: CheckoutSession, payment_status: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "action": row.action,
        "customer_id": row.customer_id,
        "payment_provider": row.payment_provider,
        "checkout_status": row.checkout_status,
        "checkout_invoice_id": row.invoice_id,
        "checkout_payment_id": row.payment_id,
        "success_url": row.success_url,
        "cancel_url": row.cancel_url,
        "failure_url": row.failure_url,
        "idempotency_key": row.idempotency_key,
        "failure_reason": row.failure_reason,
        "metadata": row.metadata_ or {},
        "terminal": row.checkout_status not in OPEN,
        "next_poll_after_ms": 2000 if row.checkout_status in OPEN else None,
        "expires_at": iso(row.expires_at),
        "completed_at": iso(row.completed_at),
        "cancelled_at": iso(row.cancelled_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if row.payment_id is not None:
        body["payment"] = {
            "id": row.payment_id,
            "gateway": row.payment_provider,
            **({"status": payment_status} if payment_status else {}),
        }
    return {k: v for k, v in body.items() if v is not None}


def _rendered(session: Any, row: CheckoutSession) -> dict[str, Any]:
    status = checkout.payment_status_of(session, row)
    return checkout_out(row, status)


@router.post("/checkout/sessions", status_code=201, summary="Create a checkout session")
def create_checkout_session(
    body: CheckoutIn, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    params = body.configuration.pay_invoice_params if body.configuration else None
    data = checkout.NewCheckout(
        action=body.action,
        customer_external_id=body.customer_external_id,
        payment_provider=body.payment_provider,
        invoice_id=params.invoice_id if params is not None else None,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        failure_url=body.failure_url,
        idempotency_key=body.idempotency_key,
        metadata=body.metadata,
    )
    row = checkout.create_checkout(session, principal, providers, data)
    return json_response(_rendered(session, row), 201)


@router.get("/checkout/sessions/{session_id}", summary="Get a checkout session")
def get_checkout_session(
    session_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    # A write session: reading asks the provider and records what it says.
    row = checkout.get_checkout(session, principal, providers, session_id)
    return json_response(_rendered(session, row))


@router.post("/checkout/sessions/{session_id}/cancel", summary="Cancel a checkout session")
def cancel_checkout_session(
    session_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    row = checkout.cancel_checkout(session, principal, providers, session_id)
    return json_response(_rendered(session, row))


@router.delete("/checkout/sessions/{session_id}", status_code=204, summary="Delete a session")
def delete_checkout_session(
    session_id: str, principal: Vendor, session: WriteSession, providers: PaymentProviders
) -> Response:
    checkout.delete_checkout(session, principal, providers, session_id)
    return Response(status_code=204)


__all__ = ["ReadSession", "router"]
