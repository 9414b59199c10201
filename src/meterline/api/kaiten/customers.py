"""/api/customers: the same customers as /v1, addressed by slug."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import SLUG, Body, Page, ReadCustomers, WriteCustomers, user
from meterline.api.kaiten.ids import wire_id
from meterline.api.kaiten.integrations import Links, integrations_out, links_in
from meterline.customers.models import Customer
from meterline.licensing import customers, integrations
from meterline.licensing.integration_models import Integration

router = APIRouter(tags=["customers"])

DOMAIN = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$"


class CustomerFields(Body):
    name: str = Field(min_length=1, max_length=255)
    externalCustomerId: str | None = Field(default=None, min_length=1, max_length=255)
    domain: str | None = Field(default=None, max_length=255, pattern=DOMAIN)


class CustomerIn(CustomerFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)
    integrations: Links | None = None


def customer_out(customer: Customer, links: dict[str, Integration] | None = None) -> dict[str, Any]:
    body = {
        "id": wire_id(customer.id),
        "slug": customer.slug,
        "name": customer.name,
        "externalCustomerId": customer.api_external_id,
        "domain": customer.domain,
        "createdAt": iso(customer.created_at),
        "createdBy": user(customer.created_by),
        "updatedAt": iso(customer.updated_at),
        "updatedBy": user(customer.updated_by),
    }
    if links:
        body["integrations"] = integrations_out(links)
    return body


@router.get("/customers")
def list_customers(
    principal: ReadCustomers, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = customers.list_customers(session, principal, page.limit, page.offset)
    links = integrations.links_of(session, principal, "customer", [c.id for c in rows])
    return page.answer(rows, lambda c: customer_out(c, links.get(c.id)))


@router.post("/customers", status_code=201)
def create_customer(body: CustomerIn, principal: WriteCustomers, session: WriteSession) -> Response:
    created = customers.create_customer(
        session,
        principal,
        name=body.name,
        slug=body.slug,
        external_customer_id=body.externalCustomerId,
        domain=body.domain,
        links=links_in(body.integrations),
    )
    links = integrations.links_of(session, principal, "customer", [created.id])
    return json_response(customer_out(created, links.get(created.id)), 201)


@router.get("/customers/{customerSlug}")
def get_customer(customerSlug: str, principal: ReadCustomers, session: ReadSession) -> Response:
    found = customers.get_customer(session, principal, customerSlug)
    links = integrations.links_of(session, principal, "customer", [found.id])
    return json_response(customer_out(found, links.get(found.id)))


@router.put("/customers/{customerSlug}", status_code=204)
def update_customer(
    customerSlug: str, body: CustomerFields, principal: WriteCustomers, session: WriteSession
) -> Response:
    customers.update_customer(
        session,
        principal,
        customerSlug,
        name=body.name,
        external_customer_id=body.externalCustomerId,
        domain=body.domain,
    )
    return Response(status_code=204)


@router.delete("/customers/{customerSlug}", status_code=204)
def delete_customer(
    customerSlug: str, principal: WriteCustomers, session: WriteSession
) -> Response:
    customers.delete_customer(session, principal, customerSlug)
    return Response(status_code=204)
