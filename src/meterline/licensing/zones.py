"""Deployment zones: the environments instances run in, and the release on each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import by_ids, existing, in_environment, of_environment
from meterline.kernel.errors import AlreadyExists, Conflict
from meterline.licensing import repository
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.distribution_models import DeploymentZone
from meterline.licensing.metadata_fields import validate_metadata
from meterline.licensing.models import Instance
from meterline.licensing.releases import release_by_id

RESOURCE_TYPE = "DEPLOYMENT_ZONE"


@dataclass(frozen=True)
class ZoneTerms:
    """What creating a zone, or replacing it whole, states about it."""

    name: str
    type: str
    description: str = ""
    metadata: dict[str, Any] | None = None
    release_id: str | None = None


def get_zone(session: Session, principal: Principal, slug: str) -> DeploymentZone:
    return existing(
        in_environment(
            session, DeploymentZone, principal.environment_id, DeploymentZone.slug == slug
        ),
        "deployment zone",
        slug,
    )


def zone_by_id(session: Session, environment_id: str, zone_id: str) -> DeploymentZone:
    """The zone an instance names by id (404 when it is not one of the environment's)."""
    return existing(
        in_environment(session, DeploymentZone, environment_id, DeploymentZone.id == zone_id),
        "deployment zone",
        zone_id,
    )


def zones_of(session: Session, zone_ids: list[str]) -> dict[str, DeploymentZone]:
    return by_ids(session, DeploymentZone, zone_ids)


def list_zones(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[DeploymentZone]:
    stmt = of_environment(DeploymentZone, principal.environment_id).order_by(DeploymentZone.id)
    return repository.page(session, stmt, limit, offset)


def _apply(session: Session, principal: Principal, zone: DeploymentZone, terms: ZoneTerms) -> None:
    validate_metadata(session, principal.environment_id, RESOURCE_TYPE, terms.metadata)
    release_id = None
    if terms.release_id is not None:
        release_id = release_by_id(session, principal, terms.release_id).id
    zone.name = terms.name
    zone.type = terms.type
    zone.description = terms.description
    zone.metadata_ = terms.metadata
    zone.release_id = release_id
    zone.updated_by = actor(principal)


def create_zone(
    session: Session, principal: Principal, terms: ZoneTerms, *, slug: str | None
) -> DeploymentZone:
    slug = slug or slug_of(terms.name)
    if in_environment(
        session, DeploymentZone, principal.environment_id, DeploymentZone.slug == slug
    ):
        raise AlreadyExists(f"A deployment zone with the slug {slug} already exists")
    created = DeploymentZone(
        environment_id=principal.environment_id, slug=slug, created_by=actor(principal)
    )
    _apply(session, principal, created, terms)
    session.add(created)
    flush_unique(session, "the deployment zone")
    return created


def update_zone(session: Session, principal: Principal, slug: str, terms: ZoneTerms) -> None:
    """A full replacement: omitted metadata and release are cleared; the slug stays."""
    found = get_zone(session, principal, slug)
    _apply(session, principal, found, terms)
    session.flush()


def delete_zone(session: Session, principal: Principal, slug: str) -> None:
    found = get_zone(session, principal, slug)
    if session.scalar(select(exists().where(Instance.deployment_zone_id == found.id))):
        raise Conflict(
            f"The deployment zone {slug} has instances; move or delete them first",
            reason="in_use",
        )
    session.delete(found)
    session.flush()
