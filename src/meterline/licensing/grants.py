"""Grants: what a license grants of each catalog entry (shared Entitlement rows)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog.models import Feature
from meterline.db.rows import existing
from meterline.entitlements.models import Entitlement
from meterline.kernel.errors import Conflict
from meterline.licensing import audit, repository
from meterline.licensing.catalog import CatalogEntry, catalog_entry, entries_of
from meterline.licensing.common import flush_unique
from meterline.licensing.licenses import get_license
from meterline.licensing.models import License
from meterline.licensing.values import TypedValue, grant_terms, grant_value


@dataclass(frozen=True)
class GrantView:
    grant: Entitlement
    entry: CatalogEntry
    license: License


def granted_value(entitlement_type: str, granted: Entitlement) -> TypedValue:
    """The typed value a license's grant stands for."""
    return grant_value(
        entitlement_type,
        is_enabled=granted.is_enabled,
        usage_limit=granted.usage_limit,
        config_value=granted.config_value,
        static_value=granted.static_value,
    )


def _grant_views(
    session: Session, found: License, pairs: list[tuple[Entitlement, Feature]]
) -> list[GrantView]:
    entries = {e.feature.id: e for e in entries_of(session, [f for _, f in pairs])}
    return [GrantView(g, entries[f.id], found) for g, f in pairs]


def list_grants(
    session: Session, principal: Principal, license_slug: str, limit: int, offset: int
) -> list[GrantView]:
    found = get_license(session, principal, license_slug)
    return _grant_views(session, found, repository.grants_page(session, found.id, limit, offset))


def get_grant(
    session: Session, principal: Principal, license_slug: str, entitlement_slug: str
) -> GrantView:
    found = get_license(session, principal, license_slug)
    entry = catalog_entry(session, principal, entitlement_slug)
    granted = repository.grant(session, found.id, entry.feature.id)
    return GrantView(existing(granted, "license entitlement", entitlement_slug), entry, found)


def create_grant(
    session: Session,
    principal: Principal,
    license_slug: str,
    entitlement_slug: str,
    value: TypedValue,
    overage_percent: int | None,
) -> GrantView:
    found = get_license(session, principal, license_slug)
    by_slug = repository.feature_by_slug(session, principal.environment_id, entitlement_slug)
    feature = existing(by_slug, "entitlement", entitlement_slug)
    entry = entries_of(session, [feature])[0]
    if repository.grant(session, found.id, feature.id) is not None:
        raise Conflict(
            f"The license {license_slug} already grants {entitlement_slug}",
            reason="already_granted",
        )
    terms = grant_terms(entry.entitlement_type, value, overage_percent)
    granted = Entitlement(
        environment_id=principal.environment_id,
        entity_type=repository.LICENSE,
        entity_id=found.id,
        feature_id=feature.id,
        feature_type=feature.type,
        usage_reset_period=feature.usage_reset_period,
        **terms.columns(),
    )
    session.add(granted)
    flush_unique(session, "the grant")
    audit.record(
        session,
        principal,
        "LICENSE_ENTITLEMENT_ASSIGNED",
        license_id=found.id,
        payload={"licenseSlug": license_slug, "entitlementSlug": entitlement_slug},
    )
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
    for column, stored in terms.columns().items():
        setattr(view.grant, column, stored)
    _audited(session, principal, "LICENSE_ENTITLEMENT_UPDATED", view, entitlement_slug)


def delete_grant(
    session: Session, principal: Principal, license_slug: str, entitlement_slug: str
) -> None:
    view = get_grant(session, principal, license_slug, entitlement_slug)
    session.delete(view.grant)
    _audited(session, principal, "LICENSE_ENTITLEMENT_UNASSIGNED", view, entitlement_slug)


def _audited(
    session: Session, principal: Principal, action: str, view: GrantView, entitlement_slug: str
) -> None:
    """Record a change of a license's grant in the audit trail, and write it."""
    audit.record(
        session,
        principal,
        action,
        license_id=view.license.id,
        payload={"licenseSlug": view.license.slug, "entitlementSlug": entitlement_slug},
    )
    session.flush()
