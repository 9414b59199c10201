"""Integration mappings: which provider object a Meterline entity is.

* One live mapping per (entity type, entity id, provider); linking the same provider object
  again returns it, linking another one is a 409 until the first is delinked.
* A customer, invoice or payment must exist in the caller's environment to be linked.
* The Stripe provider links a customer to the Stripe customer it creates for it, the first
  time it charges them (payments/service.py); a vendor whose customers already exist in
  Stripe links them here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.invoicing import repository as invoice_rows
from meterline.kernel.errors import Conflict, InvalidRequest
from meterline.payments import repository
from meterline.payments.models import ENTITY_TYPES, IntegrationMapping
from meterline.pricing.plans import flush_unique


def _entity_type(value: str) -> str:
    if value not in ENTITY_TYPES:
        raise InvalidRequest(
            f"entity_type must be one of {', '.join(ENTITY_TYPES)}",
            field="entity_type",
            details={"allowed_values": list(ENTITY_TYPES), "provided_value": value},
        )
    return value


def _check_entity(session: Session, principal: Principal, entity_type: str, entity_id: str) -> None:
    if entity_type == "customer":
        customers.get_customer(session, principal, entity_id)
    elif entity_type == "invoice":
        found = invoice_rows.get(session, principal.environment_id, entity_id)
        existing(found, "invoice", entity_id)
    elif entity_type == "payment":
        found_payment = repository.payment(session, principal.environment_id, entity_id)
        existing(found_payment, "payment", entity_id)


def link(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    entity_id: str,
    provider_type: str,
    provider_entity_id: str,
    metadata: dict[str, Any] | None = None,
) -> IntegrationMapping:
    _entity_type(entity_type)
    _check_entity(session, principal, entity_type, entity_id)
    env = principal.environment_id
    current = repository.mapping(session, env, entity_type, entity_id, provider_type)
    if current is not None:
        if current.provider_entity_id == provider_entity_id:
            return current
        raise Conflict(
            f"the {entity_type} is already linked to another {provider_type} object",
            details={"mapping_id": current.id, "provider_entity_id": current.provider_entity_id},
            reason="already_linked",
        )
    row = IntegrationMapping(
        id=new_id("map"),
        environment_id=env,
        entity_type=entity_type,
        entity_id=entity_id,
        provider_type=provider_type,
        provider_entity_id=provider_entity_id,
        metadata_=dict(metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(row)
    flush_unique(session, "A mapping of this entity to this provider")
    return row


def delink(
    session: Session, principal: Principal, *, entity_type: str, entity_id: str, provider_type: str
) -> IntegrationMapping:
    _entity_type(entity_type)
    found = repository.mapping(
        session, principal.environment_id, entity_type, entity_id, provider_type
    )
    row = existing(found, "integration mapping", f"{entity_type}/{entity_id}/{provider_type}")
    row.status = "deleted"
    row.updated_at = utcnow()
    row.updated_by = principal.user_id
    session.flush()
    return row


def mappings_of(
    session: Session, principal: Principal, entity_type: str, entity_id: str
) -> list[IntegrationMapping]:
    _entity_type(entity_type)
    return repository.mappings_of(session, principal.environment_id, entity_type, entity_id)


def provider_id_of(
    session: Session, environment_id: str, entity_type: str, entity_id: str, provider: str
) -> str | None:
    found = repository.mapping(session, environment_id, entity_type, entity_id, provider)
    return None if found is None else found.provider_entity_id


def providers_in_use(session: Session, principal: Principal) -> list[str]:
    return repository.providers_in_use(session, principal.environment_id)
