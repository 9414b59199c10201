"""Licensing rules: the entitlement catalog (as catalog features), licenses and their
families, grants, entitlement groups, and customers as the licensing surface sees them.

Usage reads and reports are in ``reporting.py``; instances and license files in
``instances.py``. Services flush, never commit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import service as catalog
from meterline.catalog.commands import CreateFeature, FeatureChanges
from meterline.catalog.models import Feature
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer, CustomerChanges
from meterline.customers.models import Customer
from meterline.entitlements.models import Entitlement
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from meterline.licensing import repository
from meterline.licensing.models import (
    EntitlementGroup,
    EntitlementGroupMember,
    FeatureLicensing,
    License,
    LicenseFamily,
)
from meterline.licensing.repository import GroupRef
from meterline.licensing.usage import AGGREGATION_METHODS
from meterline.licensing.values import (
    NUMBER_TYPES,
    TypedValue,
    entitlement_type_of,
    feature_type_of,
    grant_terms,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"


def actor(principal: Principal) -> str:
    """Who did it: the key's user, else the key."""
    return principal.user_id or principal.key_id


def slug_of(name: str) -> str:
    """A slug from a name: ``"Acme Prod!"`` → ``"acme-prod"`` (2..100 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100].strip("-")
    if len(slug) < 2:
        slug = (slug + "-" if slug else "") + secrets.token_hex(3)
    return slug


def flush_unique(session: Session, what: str) -> None:
    """Flush; a unique index refusing the row (a concurrent duplicate) is a 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise AlreadyExists(f"{what} already exists") from exc


# --- the entitlement catalog -------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    feature: Feature
    licensing: FeatureLicensing | None
    groups: list[GroupRef]

    @property
    def entitlement_type(self) -> str:
        stored = self.licensing.entitlement_type if self.licensing else None
        return entitlement_type_of(self.feature.type, stored)


@dataclass(frozen=True)
class CatalogAttributes:
    """The mutable, licensing-only attributes of a catalog entry."""

    warning_threshold_percent: int = 0
    user_facing: bool = False
    display_order: int | None = None
    icon: str | None = None
    sale_unit_singular: str | None = None
    sale_unit_plural: str | None = None
    sale_unit_factor: Decimal | None = None


def _entries(session: Session, feature_list: list[Feature]) -> list[CatalogEntry]:
    ids = [f.id for f in feature_list]
    licensing = repository.licensing_of(session, ids)
    groups = repository.groups_of_features(session, ids)
    return [CatalogEntry(f, licensing.get(f.id), groups.get(f.id, [])) for f in feature_list]


def catalog_entry(session: Session, principal: Principal, slug: str) -> CatalogEntry:
    feature = repository.feature_by_slug(session, principal.environment_id, slug)
    if feature is None:
        raise NotFound("entitlement", slug, code="GetEntitlement.NotFound")
    return _entries(session, [feature])[0]


def list_catalog(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[CatalogEntry]:
    rows = repository.page(session, repository.features(principal.environment_id), limit, offset)
    return _entries(session, rows)


def _check_sale_units(attrs: CatalogAttributes, unit_singular: str | None) -> None:
    sale = (attrs.sale_unit_singular, attrs.sale_unit_plural, attrs.sale_unit_factor)
    if any(v is not None for v in sale):
        if any(v is None for v in sale):
            raise InvalidRequest(
                "saleUnitSingular, saleUnitPlural and saleUnitFactor are set together",
                field="saleUnitFactor",
            )
        if unit_singular is None:
            raise InvalidRequest("a sale unit needs the base unit labels", field="unitSingular")


def _groups_by_slug(session: Session, principal: Principal, slugs: list[str]) -> list[str]:
    ids = []
    for slug in slugs:
        group = repository.group_by_slug(session, principal.environment_id, slug)
        if group is None:
            raise NotFound("entitlement group", slug, code="EntitlementGroup.NotFound")
        ids.append(group.id)
    return ids


def create_catalog_entry(
    session: Session,
    principal: Principal,
    *,
    name: str,
    description: str | None,
    slug: str | None,
    entitlement_type: str,
    aggregation_method: str | None,
    reset_period: str | None,
    reset_anchor: str | None,
    unit_singular: str | None,
    unit_plural: str | None,
    group_slugs: list[str] | None,
    attributes: CatalogAttributes,
) -> CatalogEntry:
    """A Kaiten entitlement: a catalog feature plus its licensing attributes."""
    is_number = entitlement_type in NUMBER_TYPES
    if not is_number and (aggregation_method or reset_period or reset_anchor):
        raise InvalidRequest(
            "aggregationMethod, resetPeriod and resetAnchor apply to NUMBER entitlements",
            field="aggregationMethod" if aggregation_method else "resetPeriod",
        )
    if reset_anchor and not reset_period:
        raise InvalidRequest("resetAnchor needs a resetPeriod", field="resetAnchor")
    if aggregation_method is not None and aggregation_method not in AGGREGATION_METHODS:
        raise InvalidRequest("unknown aggregation method", field="aggregationMethod")
    _check_sale_units(attributes, unit_singular)
    slug = slug or slug_of(name)
    if repository.feature_by_slug(session, principal.environment_id, slug) is not None:
        raise AlreadyExists(f"An entitlement with the slug {slug} already exists")
    group_ids = _groups_by_slug(session, principal, group_slugs or [])
    feature = catalog.create_feature(
        session,
        principal,
        CreateFeature(
            name=name,
            type=feature_type_of(entitlement_type),
            lookup_key=slug,
            description=description,
            unit_singular=unit_singular,
            unit_plural=unit_plural,
            usage_aggregation=(aggregation_method or "SUM") if is_number else None,
            usage_reset_period=reset_period if is_number else None,
            usage_reset_anchor=(reset_anchor or "CALENDAR") if reset_period else None,
        ),
    )
    session.add(
        FeatureLicensing(
            feature_id=feature.id,
            entitlement_type=entitlement_type,
            **attributes.__dict__,
        )
    )
    repository.set_feature_groups(session, feature.id, group_ids)
    flush_unique(session, "the entitlement")
    return _entries(session, [feature])[0]


def update_catalog_entry(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    name: str,
    description: str | None,
    entitlement_type: str | None,
    aggregation_method: str | None,
    reset_period: str | None,
    reset_anchor: str | None,
    unit_singular: str | None,
    unit_plural: str | None,
    group_slugs: list[str] | None,
    attributes: CatalogAttributes,
) -> None:
    """A full replacement; type, aggregation and reset settings can only be echoed."""
    entry = catalog_entry(session, principal, slug)
    feature = entry.feature
    immutable = {
        "type": (entitlement_type, entry.entitlement_type),
        "aggregationMethod": (
            aggregation_method,
            (feature.usage_aggregation or "SUM") if feature.type == "metered" else None,
        ),
        "resetPeriod": (reset_period, feature.usage_reset_period),
        "resetAnchor": (reset_anchor, feature.usage_reset_anchor),
    }
    for field, (given, stored) in immutable.items():
        if given is not None and given != stored:
            raise InvalidRequest(f"{field} cannot be changed once set", field=field)
    if (unit_singular is None) != (unit_plural is None):
        raise InvalidRequest("unitSingular and unitPlural are set together", field="unitPlural")
    _check_sale_units(attributes, unit_singular)
    group_ids = _groups_by_slug(session, principal, group_slugs or [])
    catalog.update_feature(session, principal, feature.id, FeatureChanges(name=name))
    # A full replacement clears what was left out, which update_feature never does.
    feature.description = description
    feature.unit_singular = unit_singular
    feature.unit_plural = unit_plural
    licensing = entry.licensing
    if licensing is None:
        licensing = FeatureLicensing(feature_id=feature.id, entitlement_type=entry.entitlement_type)
        session.add(licensing)
    for key, value in attributes.__dict__.items():
        setattr(licensing, key, value)
    repository.set_feature_groups(session, feature.id, group_ids)
    session.flush()


def delete_catalog_entry(session: Session, principal: Principal, slug: str) -> None:
    entry = catalog_entry(session, principal, slug)
    if repository.feature_is_granted(session, entry.feature.id):
        raise Conflict(
            f"The entitlement {slug} is granted; remove its grants first",
            code="DeleteEntitlement.InUse",
        )
    repository.set_feature_groups(session, entry.feature.id, [])
    catalog.archive_feature(session, principal, entry.feature.id)


# --- licenses and families ---------------------------------------------------------------


def get_license(
    session: Session, principal: Principal, slug: str, op: str = "GetLicense"
) -> License:
    found = repository.license_by_slug(session, principal.environment_id, slug)
    if found is None:
        raise NotFound("license", slug, code=f"{op}.NotFound")
    return found


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
            "Only a published version can be the default",
            code="CreateLicense.DefaultMustBePublished",
        )
    env = principal.environment_id
    family: LicenseFamily | None = None
    if family_slug or family_id:
        by_slug = repository.family_by_slug(session, env, family_slug) if family_slug else None
        by_id = repository.family_by_id(session, env, family_id) if family_id else None
        if (family_slug and by_slug is None) or (family_id and by_id is None):
            raise NotFound(
                "license family",
                family_slug or family_id or "",
                code="CreateLicense.FamilyNotFound",
            )
        if by_slug is not None and by_id is not None and by_slug.id != by_id.id:
            raise InvalidRequest(
                "familySlug and familyId name different families", field="familyId"
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
    found = get_license(session, principal, slug, "UpdateLicense")
    if is_default and found.lifecycle_state != "PUBLISHED":
        raise Conflict(
            "Only a published version can be the default",
            code="UpdateLicense.DefaultMustBePublished",
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
    session.flush()


def _transition(
    session: Session, principal: Principal, slug: str, op: str, source: str, target: str, code: str
) -> License:
    found = get_license(session, principal, slug, op)
    if found.lifecycle_state != source:
        raise Conflict(f"The license {slug} is {found.lifecycle_state}, not {source}", code=code)
    if target == "ARCHIVED" and found.is_default:
        raise Conflict(
            "The family's default version cannot be archived; unset the default first",
            code="ArchiveLicense.DefaultMustBePublished",
        )
    found.lifecycle_state = target
    found.updated_by = actor(principal)
    session.flush()
    return found


def publish_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(
        session, principal, slug, "PublishLicense", "DRAFT", "PUBLISHED", "PublishLicense.NotADraft"
    )


def archive_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(
        session,
        principal,
        slug,
        "ArchiveLicense",
        "PUBLISHED",
        "ARCHIVED",
        "ArchiveLicense.NotPublished",
    )


def unarchive_license(session: Session, principal: Principal, slug: str) -> License:
    return _transition(
        session,
        principal,
        slug,
        "UnarchiveLicense",
        "ARCHIVED",
        "PUBLISHED",
        "UnarchiveLicense.NotArchived",
    )


def delete_license(session: Session, principal: Principal, slug: str) -> None:
    found = get_license(session, principal, slug, "DeleteLicense")
    if repository.license_in_use(session, found.id):
        raise Conflict(
            f"Instances run under the license {slug}; move them first",
            code="DeleteLicense.InUse",
        )
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
    family = repository.family_by_slug(session, principal.environment_id, slug)
    if family is None:
        raise NotFound("license family", slug, code="GetLicenseFamily.NotFound")
    versions = repository.versions_of(session, [family.id])
    if version is not None:
        pinned = next((v for v in versions if v.version == version), None)
        if pinned is None:
            raise NotFound("license version", str(version), code="GetLicenseFamily.VersionNotFound")
        return FamilyView(family, versions, pinned)
    current = _current(versions)
    if current is None and not include_versions:
        raise NotFound(
            "published version of license family", slug, code="GetLicenseFamily.NoPublishedVersion"
        )
    return FamilyView(family, versions, current)


# --- grants (license entitlements) -------------------------------------------------------


@dataclass(frozen=True)
class GrantView:
    grant: Entitlement
    entry: CatalogEntry
    license: License


def _grant_views(
    session: Session, found: License, pairs: list[tuple[Entitlement, Feature]]
) -> list[GrantView]:
    entries = {e.feature.id: e for e in _entries(session, [f for _, f in pairs])}
    return [GrantView(g, entries[f.id], found) for g, f in pairs]


def list_grants(
    session: Session, principal: Principal, license_slug: str, limit: int, offset: int
) -> list[GrantView]:
    found = get_license(session, principal, license_slug, "ListLicenseEntitlements")
    return _grant_views(session, found, repository.grants_page(session, found.id, limit, offset))


def get_grant(
    session: Session, principal: Principal, license_slug: str, entitlement_slug: str
) -> GrantView:
    found = get_license(session, principal, license_slug, "GetLicenseEntitlement")
    entry = catalog_entry(session, principal, entitlement_slug)
    granted = repository.grant(session, found.id, entry.feature.id)
    if granted is None:
        raise NotFound(
            "license entitlement", entitlement_slug, code="GetLicenseEntitlement.NotFound"
        )
    return GrantView(granted, entry, found)


def create_grant(
    session: Session,
    principal: Principal,
    license_slug: str,
    entitlement_slug: str,
    value: TypedValue,
    overage_percent: int | None,
) -> GrantView:
    found = get_license(session, principal, license_slug, "CreateLicenseEntitlement")
    feature = repository.feature_by_slug(session, principal.environment_id, entitlement_slug)
    if feature is None:
        raise NotFound(
            "entitlement", entitlement_slug, code="CreateLicenseEntitlement.EntitlementNotFound"
        )
    entry = _entries(session, [feature])[0]
    if repository.grant(session, found.id, feature.id) is not None:
        raise Conflict(
            f"The license {license_slug} already grants {entitlement_slug}",
            code="CreateLicenseEntitlement.AlreadyExists",
        )
    terms = grant_terms(entry.entitlement_type, value, overage_percent)
    granted = Entitlement(
        environment_id=principal.environment_id,
        entity_type=repository.LICENSE,
        entity_id=found.id,
        feature_id=feature.id,
        feature_type=feature.type,
        is_enabled=terms.is_enabled,
        usage_limit=terms.usage_limit,
        usage_reset_period=feature.usage_reset_period,
        is_soft_limit=bool(terms.overage_percent),
        overage_percent=terms.overage_percent,
        config_value=terms.config_value,
    )
    session.add(granted)
    flush_unique(session, "the grant")
    return GrantView(granted, entry, found)


def update_grant(
    session: Session,
    principal: Principal,
    license_slug: str,
    entitlement_slug: str,
    value: TypedValue,
    overage_percent: int | None,
) -> None:
    view = get_grant(session, principal, license_slug, entitlement_slug)
    terms = grant_terms(view.entry.entitlement_type, value, overage_percent)
    view.grant.is_enabled = terms.is_enabled
    view.grant.usage_limit = terms.usage_limit
    view.grant.overage_percent = terms.overage_percent
    view.grant.is_soft_limit = bool(terms.overage_percent)
    view.grant.config_value = terms.config_value
    session.flush()


def delete_grant(
    session: Session, principal: Principal, license_slug: str, entitlement_slug: str
) -> None:
    view = get_grant(session, principal, license_slug, entitlement_slug)
    session.delete(view.grant)
    session.flush()


# --- entitlement groups ------------------------------------------------------------------


def get_group(session: Session, principal: Principal, slug: str) -> EntitlementGroup:
    group = repository.group_by_slug(session, principal.environment_id, slug)
    if group is None:
        raise NotFound("entitlement group", slug, code="GetEntitlementGroup.NotFound")
    return group


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
    if member is None:
        raise NotFound("group member", entitlement_slug, code="RemoveEntitlementFromGroup.NotFound")
    session.delete(member)
    session.flush()


# --- customers ---------------------------------------------------------------------------


def get_customer(
    session: Session, principal: Principal, slug: str, op: str = "GetCustomer"
) -> Customer:
    try:
        return customers.get_customer_by_slug(session, principal, slug)
    except NotFound as exc:
        raise NotFound("customer", slug, code=f"{op}.NotFound") from exc


def list_customers(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[Customer]:
    rows, _total = customers.search_customers(session, principal, limit=limit + 1, offset=offset)
    return list(rows)


def create_customer(
    session: Session,
    principal: Principal,
    *,
    name: str,
    slug: str | None,
    external_customer_id: str | None,
    domain: str | None,
) -> Customer:
    """A customer of both surfaces; without an external id, the slug stands in for it."""
    slug = slug or slug_of(name)
    created = customers.create_customer(
        session,
        principal,
        CreateCustomer(
            external_id=external_customer_id or slug, name=name, slug=slug, domain=domain
        ),
    )
    flush_unique(session, "the customer")
    return created


def update_customer(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    name: str,
    external_customer_id: str | None,
    domain: str | None,
) -> None:
    found = get_customer(session, principal, slug, "UpdateCustomer")
    customers.update_customer(
        session,
        principal,
        found.id,
        CustomerChanges(name=name, external_id=external_customer_id or found.slug),
    )
    found.domain = domain  # a full replacement clears it, which update_customer never does
    session.flush()


def delete_customer(session: Session, principal: Principal, slug: str) -> None:
    found = get_customer(session, principal, slug, "DeleteCustomer")
    if repository.customer_has_instances(session, found.id):
        raise Conflict(
            f"The customer {slug} has instances; delete them first",
            code="DeleteCustomer.HasInstances",
        )
    customers.archive_customer(session, principal, found.id)
