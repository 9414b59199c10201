"""/v1 add-ons: the catalog, their prices/entitlements/credit grants, and subscriptions
buying them (``/subscriptions/addon``, ``/subscriptions/{id}/addons/associations``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.addons import attachments
from meterline.addons import service as addons
from meterline.addons.models import Addon, AddonAssociation
from meterline.addons.service import AddonChanges, NewAddon
from meterline.api.deps import AppSettings, ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import WireModel, list_envelope, list_response
from meterline.api.flexprice.credit_grants import grant_out
from meterline.api.flexprice.entitlements import entitlement_out
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.flexprice.invoices import invoice_out
from meterline.api.flexprice.prices import price_out
from meterline.api.json import iso, json_response
from meterline.credits import service as grants
from meterline.db.base import utcnow
from meterline.entitlements import service as entitlements
from meterline.invoicing import service as invoices
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.pricing import repository as price_repository

router = APIRouter(tags=["addons"])

Ident = Annotated[str, Field(min_length=1, max_length=64)]
Metadata = Field(default=None, max_length=100)
MAX_EMBEDDED = 1000


class AddonIn(WireModel):
    name: str = Field(min_length=1, max_length=255)
    lookup_key: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, Any] | None = Metadata


class AddonUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, Any] | None = Metadata


class AddonSearch(FilterQuery):
    addon_ids: list[str] | None = Field(default=None, max_length=1000)
    lookup_keys: list[str] | None = Field(default=None, max_length=1000)


class AddonOverrideIn(WireModel):
    """One add-on price's quantity; a price override per subscription is not implemented."""

    unsupported = frozenset(
        {
            "amount",
            "billing_model",
            "bucket_size",
            "price_unit_amount",
            "price_unit_tiers",
            "tier_mode",
            "tiers",
            "transform_quantity",
        }
    )
    price_id: Ident
    quantity: money.Quantity | None = None


class AddAddonIn(WireModel):
    unsupported = frozenset({"checkout", "coupons", "line_item_commitments"})
    addon_id: Ident
    subscription_id: Ident
    start_date: OptionalInstant = None
    proration_behavior: str | None = Field(default=None, max_length=40)
    cadence: str | None = Field(default=None, max_length=20)
    change_at: str | None = Field(default=None, max_length=20)
    metadata: dict[str, Any] | None = Metadata
    override_line_items: list[AddonOverrideIn] | None = Field(default=None, max_length=100)


class RemoveAddonIn(WireModel):
    addon_association_id: Ident
    change_at: str | None = Field(default=None, max_length=20)
    effective_date: OptionalInstant = None
    proration_behavior: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=255)


def addon_out(addon: Addon) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": addon.id,
        "name": addon.name,
        "lookup_key": addon.lookup_key,
        "description": addon.description,
        "metadata": addon.metadata_ or {},
        "status": addon.status,
        "environment_id": addon.environment_id,
        "created_by": addon.created_by,
        "updated_by": addon.updated_by,
        "created_at": iso(addon.created_at),
        "updated_at": iso(addon.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def addon_entitlements(session: Session, principal: Any, addon: Addon) -> list[dict[str, Any]]:
    found, _total = entitlements.search_entitlements(
        session,
        principal,
        limit=MAX_EMBEDDED,
        offset=0,
        entity_type="ADDON",
        entity_ids=[addon.id],
    )
    return [entitlement_out(g) for g in found]


def full_addon(session: Session, principal: Any, addon: Addon) -> dict[str, Any]:
    """The add-on with its active prices and its entitlements (``AddonResponse``)."""
    prices = price_repository.active_prices(
        session, principal.environment_id, "ADDON", [addon.id], utcnow()
    )
    return {
        **addon_out(addon),
        "prices": [price_out(p) for p in prices[:MAX_EMBEDDED]],
        "entitlements": addon_entitlements(session, principal, addon),
        "credit_grants": [grant_out(g) for g in grants.addon_grants(session, principal, addon.id)],
    }


def association_out(association: AddonAssociation, addon: Addon | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": association.id,
        "entity_type": association.entity_type,
        "entity_id": association.entity_id,
        "addon_id": association.addon_id,
        "addon_status": association.addon_status,
        "start_date": iso(association.start_date),
        "end_date": iso(association.end_date),
        "cancelled_at": iso(association.cancelled_at),
        "cancellation_reason": association.cancellation_reason,
        "metadata": association.metadata_ or {},
        "status": association.status,
        "environment_id": association.environment_id,
        "created_by": association.created_by,
        "updated_by": association.updated_by,
        "created_at": iso(association.created_at),
        "updated_at": iso(association.updated_at),
    }
    if addon is not None:
        body["addon"] = addon_out(addon)
    return {k: v for k, v in body.items() if v is not None}


@router.post("/addons", status_code=201, summary="Create an add-on")
def create_addon(body: AddonIn, principal: Vendor, session: WriteSession) -> Response:
    data = NewAddon(
        name=body.name,
        lookup_key=body.lookup_key,
        description=body.description,
        metadata=body.metadata,
    )
    addon = addons.create_addon(session, principal, data)
    return json_response(full_addon(session, principal, addon), 201)


@router.post("/addons/search", summary="Search add-ons")
def search_addons(body: AddonSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    found, total = addons.search_addons(
        session, principal, **body.terms(), addon_ids=body.addon_ids, lookup_keys=body.lookup_keys
    )
    return list_response([addon_out(a) for a in found], total, body)


@router.get("/addons/lookup/{lookup_key}", summary="Get an add-on by its lookup key")
def get_addon_by_lookup_key(lookup_key: str, principal: Vendor, session: ReadSession) -> Response:
    addon = addons.get_addon_by_lookup_key(session, principal, lookup_key)
    return json_response(full_addon(session, principal, addon))


@router.get("/addons/{addon_id}", summary="Get an add-on")
def get_addon(addon_id: str, principal: Vendor, session: ReadSession) -> Response:
    addon = addons.get_addon(session, principal, addon_id)
    return json_response(full_addon(session, principal, addon))


@router.put("/addons/{addon_id}", summary="Update an add-on's name, description, metadata")
def update_addon(
    addon_id: str, body: AddonUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = AddonChanges(name=body.name, description=body.description, metadata=body.metadata)
    addon = addons.update_addon(session, principal, addon_id, changes)
    return json_response(full_addon(session, principal, addon))


@router.delete("/addons/{addon_id}", summary="Delete (archive) an add-on")
def delete_addon(addon_id: str, principal: Vendor, session: WriteSession) -> Response:
    addons.delete_addon(session, principal, addon_id)
    return json_response({"message": "addon deleted successfully"})


@router.get("/addons/{addon_id}/entitlements", summary="An add-on's entitlements")
def get_addon_entitlements(addon_id: str, principal: Vendor, session: ReadSession) -> Response:
    addon = addons.get_addon(session, principal, addon_id)
    items = addon_entitlements(session, principal, addon)
    return json_response(list_envelope(items, len(items), MAX_EMBEDDED, 0))


@router.post("/subscriptions/addon", summary="Add an add-on to a subscription")
def add_subscription_addon(
    body: AddAddonIn, principal: Vendor, session: WriteSession, settings: AppSettings
) -> Response:
    if body.cadence not in (None, "recurring"):
        raise InvalidRequest(
            "only recurring add-ons are supported (a one-time charge is a ONETIME price)",
            field="cadence",
            details={"allowed_values": ["recurring"], "provided_value": body.cadence},
        )
    if body.change_at not in (None, "immediate"):
        raise InvalidRequest(
            "an add-on is added now (or at a start_date in the current period);"
            " change_at end_of_period is not supported",
            field="change_at",
            details={"allowed_values": ["immediate"], "provided_value": body.change_at},
        )
    quantities = {}
    for index, override in enumerate(body.override_line_items or ()):
        if override.price_id in quantities:
            raise InvalidRequest(
                "a price is named twice", field=f"override_line_items[{index}].price_id"
            )
        if override.quantity is None:
            raise InvalidRequest(
                "override_line_items needs a quantity",
                field=f"override_line_items[{index}].quantity",
            )
        quantities[override.price_id] = override.quantity
    done = attachments.add_addon(
        session,
        principal,
        subscription_id=body.subscription_id,
        addon_id=body.addon_id,
        start_date=body.start_date,
        proration_behavior=body.proration_behavior,
        quantities=quantities,
        metadata={k: str(v) for k, v in (body.metadata or {}).items()},
        grace=settings.billing.grace,
    )
    out = association_out(done.association, None)
    if done.invoice is not None:
        lines = invoices.lines_of(session, [done.invoice])[done.invoice.id]
        out["invoice"] = invoice_out(done.invoice, lines)
    return json_response(out)


@router.delete("/subscriptions/addon", summary="Remove an add-on from a subscription")
def remove_subscription_addon(
    body: RemoveAddonIn, principal: Vendor, session: WriteSession, settings: AppSettings
) -> Response:
    attachments.remove_addon(
        session,
        principal,
        association_id=body.addon_association_id,
        change_at=body.change_at,
        effective_date=body.effective_date,
        proration_behavior=body.proration_behavior,
        reason=body.reason,
        grace=settings.billing.grace,
    )
    return json_response({"message": "addon removed from subscription successfully"})


@router.get(
    "/subscriptions/{subscription_id}/addons/associations",
    summary="A subscription's add-on associations",
)
def get_subscription_addon_associations(
    subscription_id: str, principal: Vendor, session: ReadSession
) -> Response:
    found = attachments.associations_of_subscription(session, principal, subscription_id)
    by_id = attachments.addons_of(session, found)
    items = [association_out(a, by_id.get(a.addon_id)) for a in found]
    return json_response(list_envelope(items, len(items), attachments.MAX_ASSOCIATIONS_LISTED, 0))
