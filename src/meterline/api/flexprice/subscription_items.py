"""/v1 subscription line items: quantity changes (modify), add, update, remove.

``modify/preview`` is ``modify/execute`` rendered and rolled back, as a plan change preview.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import AppSettings, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.flexprice.invoices import invoice_out
from meterline.api.flexprice.subscriptions import full_subscription, line_item_out
from meterline.api.json import iso, json_response
from meterline.invoicing import service as invoices
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.subscriptions import line_items, service
from meterline.subscriptions.changes import Swap
from meterline.subscriptions.models import Subscription

router = APIRouter(tags=["subscriptions"])

COMMITMENT_FIELDS = frozenset(
    {
        "commitment_amount",
        "commitment_duration",
        "commitment_overage_factor",
        "commitment_quantity",
        "commitment_time_buckets",
        "commitment_true_up_enabled",
        "commitment_type",
        "commitment_windowed",
    }
)


class QuantityItemIn(WireModel):
    # A change takes effect now; a dated one is not implemented.
    unsupported = frozenset({"effective_date"})
    id: str = Field(min_length=1, max_length=64)
    quantity: money.Quantity


class QuantityChangeIn(WireModel):
    line_items: list[QuantityItemIn] = Field(max_length=line_items.MAX_CHANGES)


class ModifyIn(WireModel):
    unsupported = frozenset(
        {
            "addon_bulk_params",
            "addon_params",
            "checkout",
            "coupon_params",
            "grouped_invoicing_params",
            "inheritance_params",
            "line_item_change_params",
            "tax_params",
            "trial_end_params",
        }
    )
    type: str = Field(max_length=40)
    quantity_change_params: QuantityChangeIn | None = None


class LineItemIn(WireModel):
    unsupported = COMMITMENT_FIELDS | {"end_date", "price", "start_date", "subscription_phase_id"}
    price_id: str = Field(min_length=1, max_length=64)
    quantity: money.Quantity | None = None
    display_name: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    proration_behavior: str | None = Field(default=None, max_length=40)


class LineItemUpdate(WireModel):
    unsupported = COMMITMENT_FIELDS | {
        "amount",
        "billing_model",
        "bucket_size",
        "effective_from",
        "price_unit_amount",
        "price_unit_tiers",
        "tier_mode",
        "tiers",
        "transform_quantity",
    }
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class LineItemDelete(WireModel):
    unsupported = frozenset({"effective_from"})
    proration_behavior: str | None = Field(default=None, max_length=40)


def changed_resources(session: Session, sub: Subscription, swap: Swap) -> dict[str, Any]:
    items = [(i, "ended") for i in swap.ended] + [(i, "created") for i in swap.created]
    invoices_changed: list[dict[str, Any]] = []
    if swap.invoice is not None:
        lines = invoices.lines_of(session, [swap.invoice])[swap.invoice.id]
        invoices_changed.append(
            {
                "action": "created",
                "id": swap.invoice.id,
                "status": "draft",
                "invoice": invoice_out(swap.invoice, lines),
            }
        )
    if swap.payout is not None:
        invoices_changed.append({"action": "wallet_credit", "id": swap.payout.transaction.id})
    return {
        "line_items": [
            {
                "id": item.id,
                "price_id": item.price_id,
                "quantity": money.decimal_text(item.quantity),
                "start_date": iso(item.start_date),
                "end_date": iso(item.end_date),
                "subscription_id": item.subscription_id,
                "change_action": action,
            }
            for item, action in items
        ],
        "invoices": invoices_changed,
        "subscriptions": [
            {
                "id": sub.id,
                "action": "updated",
                "status": sub.subscription_status,
                "current_period_end": iso(sub.current_period_end),
            }
        ],
    }


def _modify(
    session: Session, principal: Any, subscription_id: str, body: ModifyIn, grace: Any
) -> dict[str, Any]:
    if body.type != "quantity_change":
        raise InvalidRequest(
            "only the quantity_change modification is supported",
            field="type",
            details={"allowed_values": ["quantity_change"], "provided_value": body.type},
        )
    if body.quantity_change_params is None:
        raise InvalidRequest("quantity_change_params is required", field="quantity_change_params")
    wanted = [
        line_items.QuantityChange(i.id, i.quantity) for i in body.quantity_change_params.line_items
    ]
    swap = line_items.change_quantities(session, principal, subscription_id, wanted, grace=grace)
    sub = service.get_subscription(session, principal, subscription_id)
    return {
        "changed_resources": changed_resources(session, sub, swap),
        "subscription": full_subscription(session, sub),
    }


@router.post("/subscriptions/{subscription_id}/modify/preview", summary="Preview a quantity change")
def preview_modify(
    subscription_id: str,
    body: ModifyIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    out = _modify(session, principal, subscription_id, body, settings.billing.grace)
    session.rollback()
    return json_response(out)


@router.post("/subscriptions/{subscription_id}/modify/execute", summary="Change quantities now")
def execute_modify(
    subscription_id: str,
    body: ModifyIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    return json_response(_modify(session, principal, subscription_id, body, settings.billing.grace))


@router.post(
    "/subscriptions/{subscription_id}/lineitems",
    status_code=201,
    summary="Add a price to a subscription",
)
def create_line_item(
    subscription_id: str,
    body: LineItemIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    swap = line_items.add_line_item(
        session,
        principal,
        subscription_id,
        price_id=body.price_id,
        quantity=body.quantity,
        display_name=body.display_name,
        metadata=body.metadata,
        proration_behavior=body.proration_behavior,
        grace=settings.billing.grace,
    )
    return json_response(line_item_out(swap.created[0]), 201)


@router.put("/subscriptions/lineitems/{line_item_id}", summary="Update a line item")
def update_line_item(
    line_item_id: str, body: LineItemUpdate, principal: Vendor, session: WriteSession
) -> Response:
    item = line_items.update_line_item(session, principal, line_item_id, metadata=body.metadata)
    return json_response(line_item_out(item))


@router.delete("/subscriptions/lineitems/{line_item_id}", summary="End a line item now")
def delete_line_item(
    line_item_id: str,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
    body: LineItemDelete | None = None,
) -> Response:
    swap = line_items.remove_line_item(
        session,
        principal,
        line_item_id,
        proration_behavior=body.proration_behavior if body else None,
        grace=settings.billing.grace,
    )
    return json_response(line_item_out(swap.ended[0]))
