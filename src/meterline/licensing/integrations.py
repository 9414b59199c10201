"""Integrations of customers and instances: each owner's link, per adapter, to a record in a
third-party system. Meterline stores the links and finds owners by them; it never calls the
adapters (integration_sync.py is the lookup and upsert by record id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists
from meterline.licensing import repository
from meterline.licensing.common import actor, flush_unique
from meterline.licensing.integration_models import Integration

OwnerKind = Literal["customer", "instance"]


@dataclass(frozen=True)
class LinkTerms:
    """What creating a link, or replacing it whole, states about it."""

    external_id: str
    metadata: dict[str, Any] | None = None
    web_url: str | None = None
    last_error: str | None = None


def owner_id_of(session: Session, principal: Principal, kind: OwnerKind, slug: str) -> str:
    """The id of the environment's customer or instance ``slug`` (404 when there is none)."""
    if kind == "customer":
        return customers.get_customer_by_slug(session, principal, slug).id
    found = repository.instance_by_slug(session, principal.environment_id, slug)
    return existing(found, "instance", slug).id


def links_of(
    session: Session, principal: Principal, kind: OwnerKind, owner_ids: Sequence[str]
) -> dict[str, dict[str, Integration]]:
    """The links of these owners: owner id -> adapter name -> link (owners without links are
    absent)."""
    found: dict[str, dict[str, Integration]] = {}
    for link in repository.integrations_of(session, principal.environment_id, kind, owner_ids):
        found.setdefault(link.owner_id, {})[link.name] = link
    return found


def get_link(
    session: Session, principal: Principal, kind: OwnerKind, slug: str, name: str
) -> Integration:
    owner_id = owner_id_of(session, principal, kind, slug)
    link = repository.integration(session, principal.environment_id, kind, owner_id, name)
    return existing(link, f"{kind} integration", name)


def _apply(principal: Principal, link: Integration, terms: LinkTerms) -> None:
    link.external_id = terms.external_id
    link.metadata_ = terms.metadata
    link.web_url = terms.web_url
    link.last_error = terms.last_error
    link.updated_by = actor(principal)
    link.updated_at = utcnow()  # synced now, even when nothing changed


def _check_record_free(
    session: Session,
    principal: Principal,
    kind: OwnerKind,
    owner_id: str,
    name: str,
    external_id: str,
) -> None:
    """A record of an adapter is linked to one owner of each kind: 409 when another has it."""
    held = repository.integration_by_external_id(
        session, principal.environment_id, kind, name, external_id
    )
    if held is not None and held.owner_id != owner_id:
        raise AlreadyExists(f"The {name} record {external_id} is already linked to another {kind}")


def add_link(
    session: Session,
    principal: Principal,
    kind: OwnerKind,
    owner_id: str,
    name: str,
    terms: LinkTerms,
) -> Integration:
    """Link the owner to a record of ``name``: 409 when it has a link there already."""
    if repository.integration(session, principal.environment_id, kind, owner_id, name):
        raise AlreadyExists(f"The {kind} already has a {name} integration")
    _check_record_free(session, principal, kind, owner_id, name, terms.external_id)
    link = Integration(
        environment_id=principal.environment_id,
        owner_kind=kind,
        owner_id=owner_id,
        name=name,
        created_by=actor(principal),
    )
    _apply(principal, link, terms)
    session.add(link)
    flush_unique(session, f"the {name} integration")
    return link


def add_links(
    session: Session,
    principal: Principal,
    kind: OwnerKind,
    owner_id: str,
    links: Mapping[str, LinkTerms] | None,
) -> None:
    """The links a customer or an instance is created with."""
    for name, terms in sorted((links or {}).items()):
        add_link(session, principal, kind, owner_id, name, terms)


def create_link(
    session: Session, principal: Principal, kind: OwnerKind, slug: str, name: str, terms: LinkTerms
) -> Integration:
    owner_id = owner_id_of(session, principal, kind, slug)
    return add_link(session, principal, kind, owner_id, name, terms)


def replace_link(
    session: Session, principal: Principal, kind: OwnerKind, slug: str, name: str, terms: LinkTerms
) -> Integration:
    """A full replacement: metadata, web URL and error left out are cleared."""
    link = get_link(session, principal, kind, slug, name)
    _check_record_free(session, principal, kind, link.owner_id, name, terms.external_id)
    _apply(principal, link, terms)
    flush_unique(session, f"the {name} integration")
    return link


def delete_link(
    session: Session, principal: Principal, kind: OwnerKind, slug: str, name: str
) -> None:
    session.delete(get_link(session, principal, kind, slug, name))
    session.flush()
