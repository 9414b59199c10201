"""Customers as the licensing surface sees them: the billing customers, by slug."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer, CustomerChanges
from meterline.customers.models import Customer
from meterline.kernel.errors import Conflict
from meterline.licensing import integrations, repository
from meterline.licensing.common import flush_unique, slug_of
from meterline.licensing.integrations import LinkTerms


def get_customer(session: Session, principal: Principal, slug: str) -> Customer:
    return customers.get_customer_by_slug(session, principal, slug)


def list_customers(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[Customer]:
    rows, _total = customers.search_customers(session, principal, limit=limit + 1, offset=offset)
    return list(rows)


def create_customer(
    session: Session,
    principal: Principal,
    *,
    name: str,
    slug: str | None,
    external_customer_id: str | None,
    domain: str | None,
    links: Mapping[str, LinkTerms] | None = None,
) -> Customer:
    """A customer of both surfaces. Its billing external id is ``external_customer_id``, or
    the slug when none is given (billing needs one); the Kaiten view keeps what was sent.
    ``links`` are its integrations, by adapter name."""
    slug = slug or slug_of(name)
    created = customers.create_customer(
        session,
        principal,
        CreateCustomer(
            external_id=external_customer_id or slug, name=name, slug=slug, domain=domain
        ),
    )
    created.api_external_id = external_customer_id
    flush_unique(session, "the customer")
    integrations.add_links(session, principal, "customer", created.id, links)
    return created


def update_customer(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    name: str,
    external_customer_id: str | None,
    domain: str | None,
) -> None:
    """A full replacement of the Kaiten view (name, externalCustomerId, domain): what is left
    out is cleared there, as the SDK documents; the billing external id is /v1's and stays."""
    found = get_customer(session, principal, slug)
    customers.update_customer(session, principal, found.id, CustomerChanges(name=name))
    # A full replacement clears these, which update_customer never does.
    found.api_external_id = external_customer_id
    found.domain = domain
    session.flush()


def delete_customer(session: Session, principal: Principal, slug: str) -> None:
    found = get_customer(session, principal, slug)
    if repository.customer_has_instances(session, found.id):
        raise Conflict(f"The customer {slug} has instances; delete them first", reason="in_use")
    customers.archive_customer(session, principal, found.id)
    # An archived customer is gone for /api: its records may link another customer.
    repository.delete_integrations_of(session, "customer", found.id)
