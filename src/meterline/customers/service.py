"""Customers: create, read, update, archive and search, one environment at a time."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import repository
from meterline.customers.models import Customer
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest, NotFound

ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
UPDATABLE = (
    "external_id",
    "name",
    "email",
    "slug",
    "domain",
    "contact",
    "timezone",
    "billing_currency",
    "metadata",
    *ADDRESS_FIELDS,
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


def create_customer(
    session: Session,
    principal: Principal,
    *,
    external_id: str,
    name: str,
    email: str | None = None,
    slug: str | None = None,
    domain: str | None = None,
    timezone: str | None = None,
    metadata: dict[str, Any] | None = None,
    **fields: Any,
) -> Customer:
    external_id = external_id.strip()
    if not external_id:
        raise InvalidRequest("external_id is required", field="external_id")
    if not name.strip():
        raise InvalidRequest("name is required", field="name")
    _check_timezone(timezone)
    slug = slug or slugify(external_id)
    _check_unique(session, principal, external_id, slug, None)
    unknown = set(fields) - set(ADDRESS_FIELDS) - {"contact", "billing_currency"}
    if unknown:
        raise InvalidRequest(f"unknown customer field {sorted(unknown)[0]}")
    customer = Customer(
        environment_id=principal.environment_id,
        external_id=external_id,
        name=name.strip(),
        email=email,
        slug=slug,
        domain=domain,
        timezone=timezone or "UTC",
        metadata_=metadata or {},
        created_by=principal.user_id,
        updated_by=principal.user_id,
        **fields,
    )
    session.add(customer)
    session.flush()
    return customer


def get_customer(session: Session, principal: Principal, customer_id: str) -> Customer:
    customer = repository.by_id(session, principal.environment_id, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


def get_customer_by_external_id(
    session: Session, principal: Principal, external_id: str
) -> Customer:
    customer = repository.by_external_id(session, principal.environment_id, external_id)
    if customer is None:
        raise NotFound("customer", external_id)
    return customer


def get_customer_by_slug(session: Session, principal: Principal, slug: str) -> Customer:
    customer = repository.by_slug(session, principal.environment_id, slug)
    if customer is None:
        raise NotFound("customer", slug)
    return customer


def update_customer(
    session: Session, principal: Principal, customer_id: str, **changes: Any
) -> Customer:
    customer = get_customer(session, principal, customer_id)
    if customer.status != "published":
        raise InvalidOperation("An archived customer cannot be updated")
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidRequest(f"unknown customer field {sorted(unknown)[0]}")
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    if changes.get("external_id") is not None and not str(changes["external_id"]).strip():
        raise InvalidRequest("external_id cannot be empty", field="external_id")
    if changes.get("name") is not None and not str(changes["name"]).strip():
        raise InvalidRequest("name cannot be empty", field="name")
    _check_unique(session, principal, changes.get("external_id"), changes.get("slug"), customer.id)
    for key, value in changes.items():
        if value is None:
            continue
        setattr(customer, "metadata_" if key == "metadata" else key, value)
    customer.updated_by = principal.user_id
    session.flush()
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


def search_customers(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[Sequence[Customer], int]:
    """Customers matching every filter given (``repository.CustomerQuery``)."""
    q = repository.CustomerQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)
