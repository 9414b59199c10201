"""Entitlement groups and their members."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists
from meterline.licensing import repository
from meterline.licensing.catalog import catalog_entry
from meterline.licensing.common import flush_unique, slug_of
from meterline.licensing.models import EntitlementGroup, EntitlementGroupMember


def get_group(session: Session, principal: Principal, slug: str) -> EntitlementGroup:
    group = repository.group_by_slug(session, principal.environment_id, slug)
    return existing(group, "entitlement group", slug)


def list_groups(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[EntitlementGroup]:
    return repository.page(session, repository.groups(principal.environment_id), limit, offset)


def create_group(
    session: Session, principal: Principal, *, name: str, description: str | None, slug: str | None
) -> EntitlementGroup:
    slug = slug or slug_of(name)
    if repository.group_by_slug(session, principal.environment_id, slug) is not None:
        raise AlreadyExists(f"An entitlement group with the slug {slug} already exists")
    group = EntitlementGroup(
        environment_id=principal.environment_id, slug=slug, name=name, description=description
    )
    session.add(group)
    flush_unique(session, "the entitlement group")
    return group


def update_group(
    session: Session, principal: Principal, slug: str, *, name: str, description: str | None
) -> None:
    group = get_group(session, principal, slug)
    group.name = name
    group.description = description
    session.flush()


def delete_group(session: Session, principal: Principal, slug: str) -> None:
    repository.delete_group(session, get_group(session, principal, slug).id)


def add_to_group(session: Session, principal: Principal, slug: str, entitlement_slug: str) -> None:
    group = get_group(session, principal, slug)
    entry = catalog_entry(session, principal, entitlement_slug)
    if repository.group_member(session, group.id, entry.feature.id) is None:
        session.add(EntitlementGroupMember(group_id=group.id, feature_id=entry.feature.id))
        flush_unique(session, "the group member")


def remove_from_group(
    session: Session, principal: Principal, slug: str, entitlement_slug: str
) -> None:
    group = get_group(session, principal, slug)
    entry = catalog_entry(session, principal, entitlement_slug)
    member = repository.group_member(session, group.id, entry.feature.id)
    session.delete(existing(member, "group member", entitlement_slug))
    session.flush()
