"""Licenses: versions within families, their lifecycle, and the families' views."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from meterline.licensing import audit, repository
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.models import License, LicenseFamily


def get_license(session: Session, principal: Principal, slug: str) -> License:
    lic = repository.license_by_slug(session, principal.environment_id, slug)
    return existing(lic, "license", slug)


def list_licenses(session: Session, principal: Principal, limit: int, offset: int) -> list[License]:
    return repository.page(session, repository.licenses(principal.environment_id), limit, offset)


def families_of(session: Session, items: list[License]) -> dict[str, LicenseFamily]:
    return repository.families_of(session, sorted({item.family_id for item in items}))


def create_license(
    session: Session,
    principal: Principal,
    *,
    name: str,
    description: str,
    license_type: str,
    is_default: bool,
    version_name: str | None,
    slug: str | None,
    family_slug: str | None,
    family_id: str | None,
    lifecycle_state: str | None,
) -> License:
    """A new family (version 1), or the next version of an existing family."""
    state = lifecycle_state or "PUBLISHED"
    if is_default and state != "PUBLISHED":
        raise Conflict(
            "Only a published version can be the default", reason="default_must_be_published"
        )
    env = principal.environment_id
    family: LicenseFamily | None = None
    if family_slug or family_id:
        by_slug = repository.family_by_slug(session, env, family_slug) if family_slug else None
        by_id = repository.family_by_id(session, env, family_id) if family_id else None
        if (family_slug and by_slug is None) or (family_id and by_id is None):
            raise NotFound("license family", family_slug or family_id or "")
        if by_slug is not None and by_id is not None and by_slug.id != by_id.id:
            raise InvalidRequest(
                "the family slug and family id name different families",
                field="family_id",
                reason="families_differ",
            )
        family = by_slug or by_id
    if family is None:
        family_slug_new = slug or slug_of(name)
        if repository.family_by_slug(session, env, family_slug_new) is not None:
            raise AlreadyExists(f"A license family with the slug {family_slug_new} already exists")
        family = LicenseFamily(environment_id=env, slug=family_slug_new, last_version=0)
        session.add(family)
        session.flush()
    family.last_version += 1
    version = family.last_version
    slug = slug or (family.slug if version == 1 else f"{family.slug}-v{version}")
    if repository.license_by_slug(session, env, slug) is not None:
        raise AlreadyExists(f"A license with the slug {slug} already exists")
    created = License(
        environment_id=env,
        family_id=family.id,
        slug=slug,
        name=name,
        description=description,
        type=license_type,
        version=version,
        version_name=version_name or f"Version - {version}",
        lifecycle_state=state,
        is_default=is_default,
        created_by=actor(principal),
        updated_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the license")
    if is_default:
        repository.clear_default(session, family.id, created.id)
    return created


def update_license(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    name: str,
    description: str,
    license_type: str,
    is_default: bool,
    version_name: str | None,
) -> None:
    found = get_license(session, principal, slug)
    if is_default and found.lifecycle_state != "PUBLISHED":
        raise Conflict(
            "Only a published version can be the default", reason="default_must_be_published"
        )
    found.name = name
    found.description = description
    found.type = license_type
    found.is_default = is_default
    if version_name is not None:
        found.version_name = version_name
    found.updated_by = actor(principal)
    if is_default:
        repository.clear_default(session, found.family_id, found.id)
    audit.record(
        session, principal, "LICENSE_UPDATED", license_id=found.id, payload={"licenseSlug": slug}
    )
    session.flush()


def _transition(
    session: Session, principal: Principal, slug: str, source: str, target: str
) -> License:
    """``source`` → ``target``; refused (reason ``wrong_state``) from any other state."""
    found = get_license(session, principal, slug)
    if found.lifecycle_state != source:
        raise Conflict(
            f"The license {slug} is {found.lifecycle_state}, not {source}", reason="wrong_state"
        )
    if target == "ARCHIVED" and found.is_default:
        raise Conflict(
            "The family's default version cannot be archived; unset the default first",
            reason="default_version",
        )
    found.lifecycle_state = target
    found.updated_by = actor(principal)
    event = {"PUBLISHED": "LICENSE_PUBLISHED", "ARCHIVED": "LICENSE_ARCHIVED"}[target]
    if source == "ARCHIVED":
        event = "LICENSE_UNARCHIVED"
    audit.record(session, principal, event, license_id=found.id, payload={"licenseSlug": slug})
    session.flush()
    return found


def publish_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(session, principal, slug, "DRAFT", "PUBLISHED")


def archive_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(session, principal, slug, "PUBLISHED", "ARCHIVED")


def unarchive_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(session, principal, slug, "ARCHIVED", "PUBLISHED")


def delete_license(session: Session, principal: Principal, slug: str) -> None:
    found = get_license(session, principal, slug)
    if repository.license_in_use(session, found.id):
        raise Conflict(f"Instances run under the license {slug}; move them first", reason="in_use")
    repository.delete_grants_of(session, found.id)
    family_id = found.family_id
    session.delete(found)
    session.flush()
    if not repository.versions_of(session, [family_id]):
        family = session.get(LicenseFamily, family_id)
        if family is not None:
            session.delete(family)
            session.flush()


@dataclass(frozen=True)
class FamilyView:
    family: LicenseFamily
    versions: list[License]
    current: License | None


def _current(versions: list[License]) -> License | None:
    for version in versions:
        if version.is_default and version.lifecycle_state == "PUBLISHED":
            return version
    published = [v for v in versions if v.lifecycle_state == "PUBLISHED"]
    return max(published, key=lambda v: v.version) if published else None


def list_families(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[FamilyView]:
    rows = repository.page(session, repository.families(principal.environment_id), limit, offset)
    versions = repository.versions_of(session, [f.id for f in rows])
    by_family: dict[str, list[License]] = {}
    for version in versions:
        by_family.setdefault(version.family_id, []).append(version)
    return [FamilyView(f, by_family.get(f.id, []), _current(by_family.get(f.id, []))) for f in rows]


def get_family(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    version: int | None,
    include_versions: bool,
) -> FamilyView:
    by_slug = repository.family_by_slug(session, principal.environment_id, slug)
    family = existing(by_slug, "license family", slug)
    versions = repository.versions_of(session, [family.id])
    if version is not None:
        pinned = next((v for v in versions if v.version == version), None)
        if pinned is None:
            raise NotFound("license version", str(version))
        return FamilyView(family, versions, pinned)
    current = _current(versions)
    if current is None and not include_versions:
        raise NotFound("published version of license family", slug)
    return FamilyView(family, versions, current)
