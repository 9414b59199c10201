"""Customers: create, read, update, archive and search, one environment at a time."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import repository
from meterline.customers.commands import CreateCustomer, CustomerChanges, CustomerDetails
from meterline.customers.models import Customer
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest, NotFound
from meterline.webhooks import notify

# The columns a command's details set as given (the others have their own rules).
PLAIN_DETAILS = tuple(
    f.name for f in fields(CustomerDetails) if f.name not in ("slug", "timezone", "metadata")
)

# Other domains register checks that forbid archiving a customer (active subscriptions,
# wallets): each returns a reason, or None when it does not object.
DeleteGuard = Callable[[Session, Customer], str | None]
DELETE_GUARDS: list[DeleteGuard] = []


def slugify(text: str) -> str:
    """``"Acme Corp!"`` → ``"acme-corp"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:255] or "customer"


def _check_timezone(value: str | None) -> None:
    if value is None:
        return
    try:
        ZoneInfo(value)
    except (KeyError, ValueError) as exc:
        raise InvalidRequest("timezone must be an IANA time zone name", field="timezone") from exc


def _check_unique(
    session: Session,
    principal: Principal,
    external_id: str | None,
    slug: str | None,
    own_id: str | None,
) -> None:
    if external_id is not None:
        clash = repository.by_external_id(session, principal.environment_id, external_id)
        if clash is not None and clash.id != own_id:
            raise AlreadyExists(
                "A customer with this identifier already exists",
                details={"external_id": external_id},
            )
    if slug is not None:
        clash = repository.by_slug(session, principal.environment_id, slug)
        if clash is not None and clash.id != own_id:
            raise AlreadyExists("A customer with this slug already exists", details={"slug": slug})


def create_customer(session: Session, principal: Principal, command: CreateCustomer) -> Customer:
    external_id = command.external_id.strip()
    if not external_id:
        raise InvalidRequest("external_id is required", field="external_id")
    if not command.name.strip():
        raise InvalidRequest("name is required", field="name")
    _check_timezone(command.timezone)
    slug = command.slug or slugify(external_id)
    _check_unique(session, principal, external_id, slug, None)
    customer = Customer(
        environment_id=principal.environment_id,
        external_id=external_id,
        api_external_id=external_id,
        name=command.name.strip(),
        slug=slug,
        timezone=command.timezone or "UTC",
        metadata_=command.metadata or {},
        created_by=principal.user_id,
        updated_by=principal.user_id,
        **{name: getattr(command, name) for name in PLAIN_DETAILS},
    )
    session.add(customer)
    session.flush()
    notify.customer_changed(session, customer, "created")
    return customer


def get_customer(session: Session, principal: Principal, customer_id: str) -> Customer:
    customer = repository.by_id(session, principal.environment_id, customer_id)
    return existing(customer, "customer", customer_id)


def get_customer_by_external_id(
    session: Session, principal: Principal, external_id: str
) -> Customer:
    customer = repository.by_external_id(session, principal.environment_id, external_id)
    return existing(customer, "customer", external_id)


def get_customer_by_slug(session: Session, principal: Principal, slug: str) -> Customer:
    customer = repository.by_slug(session, principal.environment_id, slug)
    return existing(customer, "customer", slug)


def resolve_customer(
    session: Session,
    principal: Principal,
    customer_id: str | None,
    external_customer_id: str | None,
) -> Customer:
    """The customer named by id, else by external id; one of them is required."""
    if customer_id:
        return get_customer(session, principal, customer_id)
    if external_customer_id:
        return get_customer_by_external_id(session, principal, external_customer_id)
    raise InvalidRequest("customer_id or external_customer_id is required", field="customer_id")


def update_customer(
    session: Session, principal: Principal, customer_id: str, changes: CustomerChanges
) -> Customer:
    customer = get_customer(session, principal, customer_id)
    if customer.status != "published":
        raise InvalidOperation("An archived customer cannot be updated")
    _check_timezone(changes.timezone)
    if changes.external_id is not None and not changes.external_id.strip():
        raise InvalidRequest("external_id cannot be empty", field="external_id")
    if changes.name is not None and not changes.name.strip():
        raise InvalidRequest("name cannot be empty", field="name")
    _check_unique(session, principal, changes.external_id, changes.slug, customer.id)
    for field in fields(changes):
        value = getattr(changes, field.name)
        if value is not None:
            setattr(customer, "metadata_" if field.name == "metadata" else field.name, value)
    customer.updated_by = principal.user_id
    session.flush()
    notify.customer_changed(session, customer, "updated")
    return customer


def archive_customer(session: Session, principal: Principal, customer_id: str) -> None:
    customer = get_customer(session, principal, customer_id)
    if customer.status != "published":
        raise NotFound("customer", customer_id)
    for guard in DELETE_GUARDS:
        reason = guard(session, customer)
        if reason:
            raise InvalidOperation(reason)
    customer.status = "archived"
    customer.updated_by = principal.user_id
    session.flush()
    notify.customer_changed(session, customer, "deleted")


def search_customers(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[Sequence[Customer], int]:
    """Customers matching every filter given (``repository.CustomerQuery``)."""
    q = repository.CustomerQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)
