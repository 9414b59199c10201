"""Components: the versioned building blocks of a vendor's product, by slug."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing, in_environment, of_environment
from meterline.kernel.errors import AlreadyExists, Conflict
from meterline.licensing import repository
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.distribution_models import Component, ReleaseComponent


@dataclass(frozen=True)
class ComponentTerms:
    """A component's replaceable details."""

    name: str
    version: str
    description: str | None = None


def get_component(session: Session, principal: Principal, slug: str) -> Component:
    return existing(
        in_environment(session, Component, principal.environment_id, Component.slug == slug),
        "component",
        slug,
    )


def component_by_id(session: Session, principal: Principal, component_id: str) -> Component:
    return existing(
        in_environment(session, Component, principal.environment_id, Component.id == component_id),
        "component",
        component_id,
    )


def list_components(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[Component]:
    stmt = of_environment(Component, principal.environment_id).order_by(Component.id)
    return repository.page(session, stmt, limit, offset)


def create_component(
    session: Session,
    principal: Principal,
    terms: ComponentTerms,
    *,
    slug: str | None,
    previous_component_id: str | None,
) -> Component:
    slug = slug or slug_of(terms.name)
    if in_environment(session, Component, principal.environment_id, Component.slug == slug):
        raise AlreadyExists(f"A component with the slug {slug} already exists")
    if previous_component_id is not None:
        previous_component_id = component_by_id(session, principal, previous_component_id).id
    created = Component(
        environment_id=principal.environment_id,
        slug=slug,
        name=terms.name,
        version=terms.version,
        description=terms.description,
        previous_component_id=previous_component_id,
        created_by=actor(principal),
        updated_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the component")
    return created


def update_component(
    session: Session, principal: Principal, slug: str, terms: ComponentTerms
) -> Component:
    """A full replacement of name, version and description (an omitted description clears)."""
    found = get_component(session, principal, slug)
    found.name = terms.name
    found.version = terms.version
    found.description = terms.description
    found.updated_by = actor(principal)
    session.flush()
    return found


def delete_component(session: Session, principal: Principal, slug: str) -> None:
    found = get_component(session, principal, slug)
    if session.scalar(select(exists().where(ReleaseComponent.component_id == found.id))):
        raise Conflict(
            f"The component {slug} is part of a release; delete the release first",
            reason="in_use",
        )
    session.delete(found)
    session.flush()
