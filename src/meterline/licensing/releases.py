"""Releases: immutable, versioned sets of components, by slug."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing, in_environment, of_environment
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest
from meterline.licensing import repository
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.components import component_by_id
from meterline.licensing.distribution_models import (
    Component,
    DeploymentZone,
    Release,
    ReleaseComponent,
)


@dataclass(frozen=True)
class ReleaseView:
    release: Release
    components: list[Component]


def _views(session: Session, rows: list[Release]) -> list[ReleaseView]:
    if not rows:
        return []
    pairs = session.execute(
        select(ReleaseComponent.release_id, Component)
        .join(Component, Component.id == ReleaseComponent.component_id)
        .where(ReleaseComponent.release_id.in_([r.id for r in rows]))
        .order_by(ReleaseComponent.release_id, ReleaseComponent.position)
    ).all()
    members: dict[str, list[Component]] = {}
    for release_id, component in pairs:
        members.setdefault(release_id, []).append(component)
    return [ReleaseView(r, members.get(r.id, [])) for r in rows]


def get_release(session: Session, principal: Principal, slug: str) -> Release:
    return existing(
        in_environment(session, Release, principal.environment_id, Release.slug == slug),
        "release",
        slug,
    )


def release_by_id(session: Session, principal: Principal, release_id: str) -> Release:
    return existing(
        in_environment(session, Release, principal.environment_id, Release.id == release_id),
        "release",
        release_id,
    )


def release_view(session: Session, principal: Principal, slug: str) -> ReleaseView:
    return _views(session, [get_release(session, principal, slug)])[0]


def list_releases(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[ReleaseView]:
    stmt = of_environment(Release, principal.environment_id).order_by(Release.id)
    return _views(session, repository.page(session, stmt, limit, offset))


def create_release(
    session: Session,
    principal: Principal,
    *,
    version: str,
    description: str | None,
    component_ids: list[str],
    slug: str | None,
) -> ReleaseView:
    slug = slug or slug_of(version)
    env = principal.environment_id
    if in_environment(session, Release, env, Release.slug == slug) is not None:
        raise AlreadyExists(f"A release with the slug {slug} already exists")
    if in_environment(session, Release, env, Release.version == version) is not None:
        raise AlreadyExists(f"A release with the version {version} already exists")
    if len(set(component_ids)) != len(component_ids):
        raise InvalidRequest(
            "a component is listed twice", field="componentIds", reason="duplicate"
        )
    components = [component_by_id(session, principal, c) for c in component_ids]
    created = Release(
        environment_id=env,
        slug=slug,
        version=version,
        description=description,
        created_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the release")
    for position, component in enumerate(components):
        session.add(
            ReleaseComponent(release_id=created.id, component_id=component.id, position=position)
        )
    session.flush()
    return ReleaseView(created, components)


def delete_release(session: Session, principal: Principal, slug: str) -> None:
    found = get_release(session, principal, slug)
    if session.scalar(select(exists().where(DeploymentZone.release_id == found.id))):
        raise Conflict(f"The release {slug} is deployed to a deployment zone", reason="in_use")
    session.execute(delete(ReleaseComponent).where(ReleaseComponent.release_id == found.id))
    session.delete(found)
    session.flush()
