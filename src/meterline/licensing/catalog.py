"""The entitlement catalog: catalog features with their licensing attributes and groups."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import service as catalog
from meterline.catalog.commands import CreateFeature, FeatureChanges
from meterline.catalog.models import Feature
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest
from meterline.licensing import repository
from meterline.licensing.common import flush_unique, slug_of
from meterline.licensing.models import FeatureLicensing
from meterline.licensing.repository import GroupRef
from meterline.licensing.usage import AGGREGATION_METHODS
from meterline.licensing.values import NUMBER_TYPES, entitlement_type_of, feature_type_of


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


def entries_of(session: Session, feature_list: list[Feature]) -> list[CatalogEntry]:
    ids = [f.id for f in feature_list]
    licensing = repository.licensing_of(session, ids)
    groups = repository.groups_of_features(session, ids)
    return [CatalogEntry(f, licensing.get(f.id), groups.get(f.id, [])) for f in feature_list]


def entitlement_types(session: Session, feature_list: list[Feature]) -> dict[str, str]:
    """The entitlement type of each feature, by feature id (one query)."""
    licensing = repository.licensing_of(session, [f.id for f in feature_list])
    types = {}
    for feature in feature_list:
        stored = licensing.get(feature.id)
        types[feature.id] = entitlement_type_of(
            feature.type, stored.entitlement_type if stored else None
        )
    return types


def catalog_entry(session: Session, principal: Principal, slug: str) -> CatalogEntry:
    feature = repository.feature_by_slug(session, principal.environment_id, slug)
    return entries_of(session, [existing(feature, "entitlement", slug)])[0]


def list_catalog(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[CatalogEntry]:
    rows = repository.page(session, repository.features(principal.environment_id), limit, offset)
    return entries_of(session, rows)


def _check_sale_units(attrs: CatalogAttributes, unit_singular: str | None) -> None:
    sale = (attrs.sale_unit_singular, attrs.sale_unit_plural, attrs.sale_unit_factor)
    if any(v is not None for v in sale):
        if any(v is None for v in sale):
            raise InvalidRequest(
                "the sale unit's singular, plural and factor are set together",
                field="sale_unit_factor",
                reason="sale_unit_incomplete",
            )
        if unit_singular is None:
            raise InvalidRequest(
                "a sale unit needs the base unit labels",
                field="unit_singular",
                reason="sale_unit_without_unit",
            )


def _groups_by_slug(session: Session, principal: Principal, slugs: list[str]) -> list[str]:
    ids = []
    for slug in slugs:
        group = repository.group_by_slug(session, principal.environment_id, slug)
        ids.append(existing(group, "entitlement group", slug).id)
    return ids


@dataclass(frozen=True)
class CatalogTerms:
    """What creating a catalog entry, or replacing it whole, states about it."""

    name: str
    description: str | None
    entitlement_type: str | None  # None: NUMBER for a new entry, unchanged on a replacement
    aggregation_method: str | None
    reset_period: str | None
    reset_anchor: str | None
    unit_singular: str | None
    unit_plural: str | None
    group_slugs: list[str] | None
    attributes: CatalogAttributes


def create_catalog_entry(
    session: Session, principal: Principal, terms: CatalogTerms, *, slug: str | None
) -> CatalogEntry:
    """A catalog entry: a catalog feature plus its licensing attributes."""
    entitlement_type = terms.entitlement_type or "NUMBER"
    aggregation_method, reset_period, reset_anchor = (
        terms.aggregation_method,
        terms.reset_period,
        terms.reset_anchor,
    )
    is_number = entitlement_type in NUMBER_TYPES
    if not is_number and (aggregation_method or reset_period or reset_anchor):
        raise InvalidRequest(
            "the aggregation method, reset period and reset anchor apply to NUMBER entitlements",
            field="aggregation_method" if aggregation_method else "reset_period",
            reason="usage_settings_need_number",
        )
    if reset_anchor and not reset_period:
        raise InvalidRequest(
            "a reset anchor needs a reset period",
            field="reset_anchor",
            reason="reset_anchor_without_period",
        )
    if aggregation_method is not None and aggregation_method not in AGGREGATION_METHODS:
        raise InvalidRequest(
            "unknown aggregation method", field="aggregation_method", reason="unknown_aggregation"
        )
    _check_sale_units(terms.attributes, terms.unit_singular)
    slug = slug or slug_of(terms.name)
    if repository.feature_by_slug(session, principal.environment_id, slug) is not None:
        raise AlreadyExists(f"An entitlement with the slug {slug} already exists")
    group_ids = _groups_by_slug(session, principal, terms.group_slugs or [])
    feature = catalog.create_feature(
        session,
        principal,
        CreateFeature(
            name=terms.name,
            type=feature_type_of(entitlement_type),
            lookup_key=slug,
            description=terms.description,
            unit_singular=terms.unit_singular,
            unit_plural=terms.unit_plural,
            usage_aggregation=(aggregation_method or "SUM") if is_number else None,
            usage_reset_period=reset_period if is_number else None,
            usage_reset_anchor=(reset_anchor or "CALENDAR") if reset_period else None,
        ),
    )
    session.add(
        FeatureLicensing(
            feature_id=feature.id,
            entitlement_type=entitlement_type,
            **terms.attributes.__dict__,
        )
    )
    repository.set_feature_groups(session, feature.id, group_ids)
    flush_unique(session, "the entitlement")
    return entries_of(session, [feature])[0]


def update_catalog_entry(
    session: Session, principal: Principal, slug: str, terms: CatalogTerms
) -> None:
    """A full replacement; type, aggregation and reset settings can only be echoed."""
    entry = catalog_entry(session, principal, slug)
    feature = entry.feature
    immutable = {
        "entitlement_type": (terms.entitlement_type, entry.entitlement_type),
        "aggregation_method": (
            terms.aggregation_method,
            (feature.usage_aggregation or "SUM") if feature.type == "metered" else None,
        ),
        "reset_period": (terms.reset_period, feature.usage_reset_period),
        "reset_anchor": (terms.reset_anchor, feature.usage_reset_anchor),
    }
    for field, (given, stored) in immutable.items():
        if given is not None and given != stored:
            raise InvalidRequest(
                f"{field.replace('_', ' ')} cannot be changed once set",
                field=field,
                reason="immutable",
            )
    if (terms.unit_singular is None) != (terms.unit_plural is None):
        raise InvalidRequest(
            "the unit's singular and plural are set together",
            field="unit_plural",
            reason="unit_labels_incomplete",
        )
    _check_sale_units(terms.attributes, terms.unit_singular)
    group_ids = _groups_by_slug(session, principal, terms.group_slugs or [])
    catalog.update_feature(session, principal, feature.id, FeatureChanges(name=terms.name))
    # A full replacement clears what was left out, which update_feature never does.
    feature.description = terms.description
    feature.unit_singular = terms.unit_singular
    feature.unit_plural = terms.unit_plural
    licensing = entry.licensing
    if licensing is None:
        licensing = FeatureLicensing(feature_id=feature.id, entitlement_type=entry.entitlement_type)
        session.add(licensing)
    for key, value in terms.attributes.__dict__.items():
        setattr(licensing, key, value)
    repository.set_feature_groups(session, feature.id, group_ids)
    session.flush()


def delete_catalog_entry(session: Session, principal: Principal, slug: str) -> None:
    entry = catalog_entry(session, principal, slug)
    if repository.feature_is_granted(session, entry.feature.id):
        raise Conflict(
            f"The entitlement {slug} is granted; remove its grants first", reason="in_use"
        )
    repository.set_feature_groups(session, entry.feature.id, [])
    catalog.archive_feature(session, principal, entry.feature.id)
