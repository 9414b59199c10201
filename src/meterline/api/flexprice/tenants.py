"""/v1 tenants (the SDK's ``tenants``): the organization as a seller, and its profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from meterline.accounts import tenants
from meterline.accounts.models import Organization, TenantProfile
from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.json import iso, json_response

router = APIRouter(tags=["tenants"])


class AddressIn(WireModel):
    address_line1: str | None = Field(default=None, max_length=255)
    address_line2: str | None = Field(default=None, max_length=255)
    address_city: str | None = Field(default=None, max_length=255)
    address_state: str | None = Field(default=None, max_length=255)
    address_postal_code: str | None = Field(default=None, max_length=50)
    address_country: str | None = Field(default=None, max_length=100)


class BillingDetailsIn(WireModel):
    address: AddressIn | None = None
    email: str | None = Field(default=None, max_length=255)
    help_email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=50)


class TenantUpdateIn(WireModel):
    name: str | None = Field(default=None, max_length=255)
    billing_details: BillingDetailsIn | None = None
    # The reserved keys (legal_name, tax_ids, logo, invoice_footer, payment_terms) are
    # bounded and checked by accounts/tenants.py; the logo is the one long value.
    metadata: dict[str, str] | None = Field(default=None, max_length=tenants.MAX_METADATA_ENTRIES)


def tenant_out(organization: Organization, profile: TenantProfile | None) -> dict[str, Any]:
    address = {
        name: getattr(profile, name)
        for name in tenants.ADDRESS_FIELDS
        if profile is not None and getattr(profile, name)
    }
    details: dict[str, Any] = {"address": address}
    if profile is not None:
        for name in ("email", "help_email", "phone"):
            if getattr(profile, name):
                details[name] = getattr(profile, name)
    return {
        "id": organization.id,
        "name": organization.name,
        "status": "active",
        "billing_details": details,
        "metadata": tenants.profile_metadata(profile),
        "created_at": iso(organization.created_at),
        "updated_at": iso(
            max(organization.updated_at, profile.updated_at) if profile else organization.updated_at
        ),
    }


@router.put("/tenants/update")
def update_tenant(body: TenantUpdateIn, principal: Vendor, session: WriteSession) -> Response:
    details = body.billing_details
    change = tenants.TenantUpdate(
        name=body.name,
        email=details.email if details else None,
        help_email=details.help_email if details else None,
        phone=details.phone if details else None,
        address=details.address.model_dump(exclude_unset=True)
        if details and details.address
        else None,
        metadata=body.metadata,
    )
    organization, profile = tenants.update_tenant(session, principal, change)
    return json_response(tenant_out(organization, profile))


@router.get("/tenants/{tenant_id}")
def get_tenant(tenant_id: str, principal: Vendor, session: ReadSession) -> Response:
    organization, profile = tenants.get_tenant(session, principal, tenant_id)
    return json_response(tenant_out(organization, profile))
