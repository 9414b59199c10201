"""Customers and instances addressed by a third-party record: the surface a connector
synchronizes through. It knows a record's id in its adapter (an Attio or HubSpot record),
not the slug; a lookup finds the owner linked to the record, an upsert creates the owner
and its link when there is none, and updates both otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as billing_customers
from meterline.customers.commands import CustomerChanges
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.kernel.errors import InvalidRequest, NotFound
from meterline.licensing import customers, instances, repository
from meterline.licensing.common import actor, flush_unique
from meterline.licensing.instances import InstanceTerms, InstanceView
from meterline.licensing.integration_models import Integration
from meterline.licensing.integrations import LinkTerms


@dataclass(frozen=True)
class LinkChange:
    """The link's own fields an upsert may set; each one left out stays as it is."""

    web_url: str | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None

    def terms(self, external_id: str) -> LinkTerms:
        return LinkTerms(
            external_id=external_id,
            metadata=self.metadata,
            web_url=self.web_url,
            last_error=self.error,
        )


@dataclass(frozen=True)
class CustomerUpsert:
    """A customer upsert: ``name`` is needed to create one; the slug is immutable after."""

    name: str | None = None
    slug: str | None = None
    domain: str | None = None
    link: LinkChange = LinkChange()


@dataclass(frozen=True)
class InstanceUpsert:
    """An instance upsert: to create one, ``name``, ``customer_external_id`` (the customer's
    record in the same adapter), ``license_id`` and both license dates are needed."""

    name: str | None = None
    slug: str | None = None
    description: str | None = None
    customer_external_id: str | None = None
    license_id: str | None = None
    deployment_zone_id: str | None = None
    start_license_date: datetime | None = None
    end_license_date: datetime | None = None
    metadata: dict[str, Any] | None = None
    link: LinkChange = LinkChange()

    def changes_instance(self) -> bool:
        return any(
            value is not None
            for value in (
                self.name,
                self.slug,
                self.description,
                self.customer_external_id,
                self.license_id,
                self.deployment_zone_id,
                self.start_license_date,
                self.end_license_date,
                self.metadata,
            )
        )


@dataclass(frozen=True)
class LinkedCustomer:
    customer: Customer
    link: Integration


@dataclass(frozen=True)
class LinkedInstance:
    view: InstanceView
    link: Integration
    # The instance's customer's record in the same adapter, if that customer has one.
    customer_external_id: str | None


def _update_link(principal: Principal, link: Integration, change: LinkChange) -> None:
    if change.web_url is not None:
        link.web_url = change.web_url
    if change.error is not None:
        link.last_error = change.error
    if change.metadata is not None:
        link.metadata_ = change.metadata
    link.updated_by = actor(principal)
    link.updated_at = utcnow()


def _required(value: Any, wire: str, what: str) -> Any:
    if value is None:
        raise InvalidRequest(
            f"{wire} is required to create {what}", field=wire, reason="required_to_create"
        )
    return value


# --- customers ---------------------------------------------------------------------------


def _customer_link(
    session: Session, principal: Principal, adapter: str, external_id: str
) -> tuple[Integration | None, Customer | None]:
    """The link of the record, and its customer while that customer is not archived."""
    link = repository.integration_by_external_id(
        session, principal.environment_id, "customer", adapter, external_id
    )
    if link is None:
        return None, None
    owner = repository.customers_of(session, [link.owner_id]).get(link.owner_id)
    return link, owner if owner is not None and owner.status == "published" else None


def linked_customer(
    session: Session, principal: Principal, adapter: str, external_id: str
) -> LinkedCustomer:
    """The customer linked to the record ``external_id`` of ``adapter`` (404 if none)."""
    link, customer = _customer_link(session, principal, adapter, external_id)
    if link is None or customer is None:
        raise NotFound(f"{adapter} customer", external_id)
    return LinkedCustomer(customer, link)


def upsert_customer(
    session: Session, principal: Principal, adapter: str, external_id: str, change: CustomerUpsert
) -> LinkedCustomer:
    link, customer = _customer_link(session, principal, adapter, external_id)
    if link is not None and customer is None:
        # The customer was archived on /v1: its record is free to link a new one.
        session.delete(link)
        session.flush()
        link = None
    if link is None or customer is None:
        customers.create_customer(
            session,
            principal,
            name=_required(change.name, "name", "a customer"),
            slug=change.slug,
            external_customer_id=None,
            domain=change.domain,
            links={adapter: change.link.terms(external_id)},
        )
        return linked_customer(session, principal, adapter, external_id)
    if change.slug is not None and change.slug != customer.slug:
        raise InvalidRequest("slug cannot be changed once set", field="slug", reason="immutable")
    if change.name is not None:
        billing_customers.update_customer(
            session, principal, customer.id, CustomerChanges(name=change.name)
        )
    if change.domain is not None:
        customer.domain = change.domain
    _update_link(principal, link, change.link)
    flush_unique(session, "the customer")
    return LinkedCustomer(customer, link)


# --- instances ---------------------------------------------------------------------------


def _customer_external_id(
    session: Session, principal: Principal, adapter: str, customer_id: str
) -> str | None:
    link = repository.integration(
        session, principal.environment_id, "customer", customer_id, adapter
    )
    return link.external_id if link is not None else None


def _linked(session: Session, principal: Principal, link: Integration) -> LinkedInstance:
    found = instances.instance_by_id(session, principal, link.owner_id)
    return LinkedInstance(
        found,
        link,
        _customer_external_id(session, principal, link.name, found.customer.id),
    )


def linked_instance(
    session: Session, principal: Principal, adapter: str, external_id: str
) -> LinkedInstance:
    """The instance linked to the record ``external_id`` of ``adapter`` (404 if none)."""
    link = repository.integration_by_external_id(
        session, principal.environment_id, "instance", adapter, external_id
    )
    if link is None:
        raise NotFound(f"{adapter} instance", external_id)
    return _linked(session, principal, link)


def _customer_id(
    session: Session, principal: Principal, adapter: str, customer_external_id: str
) -> str:
    """The customer linked to the record ``customer_external_id`` of the same adapter."""
    return linked_customer(session, principal, adapter, customer_external_id).customer.id


def upsert_instance(
    session: Session, principal: Principal, adapter: str, external_id: str, change: InstanceUpsert
) -> LinkedInstance:
    link = repository.integration_by_external_id(
        session, principal.environment_id, "instance", adapter, external_id
    )
    if link is None:
        what = "an instance"
        customer_external_id = _required(change.customer_external_id, "customerExternalId", what)
        terms = InstanceTerms(
            name=_required(change.name, "name", what),
            description=change.description or "",
            customer_id=_customer_id(session, principal, adapter, customer_external_id),
            license_id=_required(change.license_id, "licenseId", what),
            start_license_date=_required(change.start_license_date, "startLicenseDate", what),
            end_license_date=_required(change.end_license_date, "endLicenseDate", what),
            deployment_zone_id=change.deployment_zone_id,
            metadata=change.metadata,
        )
        view = instances.create_instance(
            session,
            principal,
            terms,
            slug=change.slug,
            links={adapter: change.link.terms(external_id)},
        )
        return LinkedInstance(view, view.links[adapter], customer_external_id)
    if change.changes_instance():
        current = instances.instance_by_id(session, principal, link.owner_id).instance
        customer_id = current.customer_id
        if change.customer_external_id is not None:
            customer_id = _customer_id(session, principal, adapter, change.customer_external_id)
        terms = InstanceTerms(
            name=change.name if change.name is not None else current.name,
            description=(
                change.description if change.description is not None else current.description
            ),
            customer_id=customer_id,
            license_id=change.license_id or current.license_id,
            start_license_date=change.start_license_date or current.start_license_date,
            end_license_date=change.end_license_date or current.end_license_date,
            deployment_zone_id=change.deployment_zone_id,  # None keeps the current zone
            metadata=change.metadata if change.metadata is not None else current.metadata_,
        )
        instances.update_instance(session, principal, current.slug, terms, new_slug=change.slug)
    _update_link(principal, link, change.link)
    session.flush()
    return _linked(session, principal, link)
