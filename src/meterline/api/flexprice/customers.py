"""/v1 customers."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import Page, WireModel, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer, CustomerChanges
from meterline.customers.models import Customer
from meterline.kernel.errors import InvalidRequest

router = APIRouter(tags=["customers"])

# One @, no spaces, a dot in the domain: what a billing contact needs, no more.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CustomerFields(WireModel):
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255, pattern=EMAIL_PATTERN)
    contact: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=255)
    address_line2: str | None = Field(default=None, max_length=255)
    address_city: str | None = Field(default=None, max_length=255)
    address_state: str | None = Field(default=None, max_length=255)
    address_postal_code: str | None = Field(default=None, max_length=50)
    address_country: str | None = Field(default=None, min_length=2, max_length=2)
    timezone: str | None = Field(default=None, max_length=64)
    billing_currency: str | None = Field(default=None, min_length=3, max_length=3)
    tax_treatment: Literal["taxable", "exempt", "reverse_charge"] | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class CustomerIn(CustomerFields):
    unsupported = frozenset(
        {
            "contact_persons",
            "integration_entity_mapping",
            "onboarding_workflow_name",
            "tax_rate_overrides",
        }
    )
    external_id: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    # A client UI hint; Meterline runs no onboarding workflow, so skipping one is what
    # always happens.
    skip_onboarding_workflow: bool | None = None


class CustomerUpdate(CustomerFields):
    unsupported = frozenset({"contact_persons", "integration_entity_mapping"})
    external_id: str | None = Field(default=None, min_length=1, max_length=255)


class CustomerSearch(FilterQuery):
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    customer_ids: list[str] | None = Field(default=None, max_length=1000)
    external_ids: list[str] | None = Field(default=None, max_length=1000)
    external_id: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)


def customer_out(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "name": customer.name,
        "email": customer.email or "",
        "contact": customer.contact,
        "address_line1": customer.address_line1 or "",
        "address_line2": customer.address_line2 or "",
        "address_city": customer.address_city or "",
        "address_state": customer.address_state or "",
        "address_postal_code": customer.address_postal_code or "",
        "address_country": customer.address_country or "",
        "timezone": customer.timezone,
        "billing_currency": customer.billing_currency,
        "tax_treatment": customer.tax_treatment,
        "metadata": customer.metadata_ or {},
        "environment_id": customer.environment_id,
        "tenant_id": None,
        "status": customer.status,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "created_by": customer.created_by,
        "updated_by": customer.updated_by,
    }


def customer_named(
    session: Any,
    principal: Any,
    customer_id: str | None,
    external_id: str | None,
    names: tuple[str, str],
) -> Customer:
    """The customer ``customer_id`` names, else the one ``external_id`` names; a 400 naming
    both parameters (``names``) when neither is given."""
    if customer_id:
        return customers.get_customer(session, principal, customer_id)
    if external_id:
        return customers.get_customer_by_external_id(session, principal, external_id)
    raise InvalidRequest(f"{names[0]} or {names[1]} is required", field=names[0])


def _fields(body: CustomerFields) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    if "email" in data:
        data["email"] = str(data["email"])
    if "address_country" in data:
        data["address_country"] = data["address_country"].upper()
    if "billing_currency" in data:
        data["billing_currency"] = data["billing_currency"].lower()
    return data


@router.post("/customers", status_code=201)
def create_customer(body: CustomerIn, principal: Vendor, session: WriteSession) -> Response:
    data = _fields(body)
    data.pop("skip_onboarding_workflow", None)  # a UI hint: there is no workflow to skip
    customer = customers.create_customer(session, principal, CreateCustomer(**data))
    return json_response(customer_out(customer), 201)


@router.get("/customers")
def list_customers(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    status: str | None = None,
    external_id: str | None = Query(default=None, max_length=255),
) -> Response:
    rows, total = customers.search_customers(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        status=status,
        external_id=external_id,
    )
    return list_response([customer_out(c) for c in rows], total, page)


@router.post("/customers/search")
def search_customers(body: CustomerSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    rows, total = customers.search_customers(
        session,
        principal,
        **body.terms(),
        customer_ids=body.customer_ids,
        external_ids=body.external_ids,
        external_id=body.external_id,
        email=body.email,
        metadata=body.metadata,
    )
    return list_response([customer_out(c) for c in rows], total, body)


@router.get("/customers/external/{external_id}")
def get_customer_by_external_id(
    external_id: str, principal: Vendor, session: ReadSession
) -> Response:
    return json_response(
        customer_out(customers.get_customer_by_external_id(session, principal, external_id))
    )


@router.get("/customers/lookup/{lookup_key}")
def get_customer_by_lookup_key(
    lookup_key: str, principal: Vendor, session: ReadSession
) -> Response:
    # A customer's lookup key is its external id.
    return get_customer_by_external_id(lookup_key, principal, session)


@router.get("/customers/{customer_id}")
def get_customer(customer_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(customer_out(customers.get_customer(session, principal, customer_id)))


def _update(session: Any, principal: Any, customer: Customer, body: CustomerUpdate) -> Response:
    changes = CustomerChanges(**_fields(body))
    updated = customers.update_customer(session, principal, customer.id, changes)
    return json_response(customer_out(updated))


@router.put("/customers/{customer_id}")
def update_customer(
    customer_id: str, body: CustomerUpdate, principal: Vendor, session: WriteSession
) -> Response:
    return _update(
        session, principal, customers.get_customer(session, principal, customer_id), body
    )


@router.put("/customers")
def update_customer_by_query(
    body: CustomerUpdate,
    principal: Vendor,
    session: WriteSession,
    customer_id: str | None = Query(default=None, alias="id", max_length=64),
    external_customer_id: str | None = Query(default=None, max_length=255),
) -> Response:
    customer = customer_named(
        session, principal, customer_id, external_customer_id, ("id", "external_customer_id")
    )
    return _update(session, principal, customer, body)


@router.delete("/customers/{customer_id}", status_code=204, response_class=Response)
def delete_customer(customer_id: str, principal: Vendor, session: WriteSession) -> Response:
    customers.archive_customer(session, principal, customer_id)
    return Response(status_code=204)
