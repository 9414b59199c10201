"""Every query of the licensing domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from meterline.accounts.models import Environment
from meterline.catalog.models import Feature
from meterline.customers.models import Customer
from meterline.db.rows import by_ids, in_environment, of_environment, published_in_environment
from meterline.entitlements.models import Entitlement
from meterline.licensing.integration_models import Integration
from meterline.licensing.models import (
    EntitlementGroup,
    EntitlementGroupMember,
    FeatureLicensing,
    Instance,
    License,
    LicenseFamily,
    UsageCounter,
    UsageReport,
)

LICENSE = "LICENSE"
_Row = TypeVar("_Row", LicenseFamily, License, Instance, EntitlementGroup)


def page(session: Session, stmt: Select[Any], limit: int, offset: int) -> list[Any]:
    """``limit + 1`` rows from ``offset``: the extra row tells whether there is more."""
    return list(session.scalars(stmt.limit(limit + 1).offset(offset)).all())


def _listed(model: type[_Row], environment_id: str) -> Select[Any]:
    """The environment's ``model`` rows in id order, as the licensing lists page them."""
    return of_environment(model, environment_id).order_by(model.id)


def _exists(session: Session, stmt: Select[Any]) -> bool:
    return session.scalar(stmt.limit(1)) is not None


# --- license families and versions -------------------------------------------------------


def family_by_slug(session: Session, environment_id: str, slug: str) -> LicenseFamily | None:
    return in_environment(session, LicenseFamily, environment_id, LicenseFamily.slug == slug)


def family_by_id(session: Session, environment_id: str, family_id: str) -> LicenseFamily | None:
    return in_environment(session, LicenseFamily, environment_id, LicenseFamily.id == family_id)


def families(environment_id: str) -> Select[Any]:
    return _listed(LicenseFamily, environment_id)


def versions_of(session: Session, family_ids: Sequence[str]) -> list[License]:
    if not family_ids:
        return []
    return list(
        session.scalars(
            select(License)
            .where(License.family_id.in_(family_ids))
            .order_by(License.family_id, License.version)
        ).all()
    )


def license_by_slug(session: Session, environment_id: str, slug: str) -> License | None:
    return in_environment(session, License, environment_id, License.slug == slug)


def license_by_id(session: Session, environment_id: str, license_id: str) -> License | None:
    return in_environment(session, License, environment_id, License.id == license_id)


def licenses(environment_id: str) -> Select[Any]:
    return _listed(License, environment_id)


def families_of(session: Session, family_ids: Sequence[str]) -> dict[str, LicenseFamily]:
    return by_ids(session, LicenseFamily, family_ids)


def clear_default(session: Session, family_id: str, except_id: str) -> None:
    session.execute(
        update(License)
        .where(License.family_id == family_id, License.id != except_id, License.is_default)
        .values(is_default=False)
    )


def license_in_use(session: Session, license_id: str) -> bool:
    return _exists(session, select(Instance.id).where(Instance.license_id == license_id))


def delete_grants_of(session: Session, license_id: str) -> None:
    session.execute(
        delete(Entitlement).where(
            Entitlement.entity_type == LICENSE, Entitlement.entity_id == license_id
        )
    )


# --- catalog features as licensing entitlements ----------------------------------------


def feature_by_slug(session: Session, environment_id: str, slug: str) -> Feature | None:
    return published_in_environment(session, Feature, environment_id, Feature.lookup_key == slug)


def features(environment_id: str) -> Select[Any]:
    return (
        select(Feature)
        .where(Feature.environment_id == environment_id, Feature.status == "published")
        .order_by(Feature.id)
    )


def licensing_of(session: Session, feature_ids: Sequence[str]) -> dict[str, FeatureLicensing]:
    if not feature_ids:
        return {}
    rows = session.scalars(
        select(FeatureLicensing).where(FeatureLicensing.feature_id.in_(feature_ids))
    ).all()
    return {row.feature_id: row for row in rows}


@dataclass(frozen=True)
class GroupRef:
    id: str
    name: str
    slug: str


def groups_of_features(session: Session, feature_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
    if not feature_ids:
        return {}
    rows = session.execute(
        select(
            EntitlementGroupMember.feature_id,
            EntitlementGroup.id,
            EntitlementGroup.name,
            EntitlementGroup.slug,
        )
        .join(EntitlementGroup, EntitlementGroup.id == EntitlementGroupMember.group_id)
        .where(EntitlementGroupMember.feature_id.in_(feature_ids))
        .order_by(EntitlementGroup.slug)
    ).all()
    out: dict[str, list[GroupRef]] = {}
    for feature_id, group_id, name, slug in rows:
        out.setdefault(feature_id, []).append(GroupRef(group_id, name, slug))
    return out


def feature_is_granted(session: Session, feature_id: str) -> bool:
    return _exists(
        session,
        select(Entitlement.id).where(
            Entitlement.feature_id == feature_id, Entitlement.status == "published"
        ),
    )


# --- grants ------------------------------------------------------------------------------


def grant(session: Session, license_id: str, feature_id: str) -> Entitlement | None:
    return session.scalars(
        select(Entitlement).where(
            Entitlement.entity_type == LICENSE,
            Entitlement.entity_id == license_id,
            Entitlement.feature_id == feature_id,
            Entitlement.status == "published",
        )
    ).first()


def grants_of(session: Session, license_id: str) -> Any:
    return (
        select(Entitlement, Feature)
        .join(Feature, Feature.id == Entitlement.feature_id)
        .where(
            Entitlement.entity_type == LICENSE,
            Entitlement.entity_id == license_id,
            Entitlement.status == "published",
        )
        .order_by(Entitlement.display_order, Feature.lookup_key)
    )


def all_grants_of(session: Session, license_id: str) -> list[tuple[Entitlement, Feature]]:
    return [(g, f) for g, f in session.execute(grants_of(session, license_id)).all()]


def grants_page(
    session: Session, license_id: str, limit: int, offset: int
) -> list[tuple[Entitlement, Feature]]:
    stmt = grants_of(session, license_id).limit(limit + 1).offset(offset)
    return [(g, f) for g, f in session.execute(stmt).all()]


# --- instances ---------------------------------------------------------------------------


def instance_by_slug(session: Session, environment_id: str, slug: str) -> Instance | None:
    return in_environment(session, Instance, environment_id, Instance.slug == slug)


def instances(environment_id: str) -> Select[Any]:
    return _listed(Instance, environment_id)


def customers_of(session: Session, customer_ids: Sequence[str]) -> dict[str, Customer]:
    return by_ids(session, Customer, customer_ids)


def licenses_of(session: Session, license_ids: Sequence[str]) -> dict[str, License]:
    return by_ids(session, License, license_ids)


def customer_has_instances(session: Session, customer_id: str) -> bool:
    return _exists(session, select(Instance.id).where(Instance.customer_id == customer_id))


def delete_instance(session: Session, instance_id: str) -> None:
    # The ledger and counters go with the instance (ON DELETE CASCADE is not enforced by
    # every SQLite connection, so delete them explicitly).
    session.execute(delete(UsageReport).where(UsageReport.instance_id == instance_id))
    session.execute(delete(UsageCounter).where(UsageCounter.instance_id == instance_id))
    delete_integrations_of(session, "instance", instance_id)
    session.execute(delete(Instance).where(Instance.id == instance_id))


# --- integrations --------------------------------------------------------------------------


def integration(
    session: Session, environment_id: str, owner_kind: str, owner_id: str, name: str
) -> Integration | None:
    """The owner's link to the ``name`` adapter."""
    return in_environment(
        session,
        Integration,
        environment_id,
        Integration.owner_kind == owner_kind,
        Integration.owner_id == owner_id,
        Integration.name == name,
    )


def integration_by_external_id(
    session: Session, environment_id: str, owner_kind: str, name: str, external_id: str
) -> Integration | None:
    """The link of an ``owner_kind`` to the record ``external_id`` of the ``name`` adapter."""
    return in_environment(
        session,
        Integration,
        environment_id,
        Integration.owner_kind == owner_kind,
        Integration.name == name,
        Integration.external_id == external_id,
    )


def integrations_of(
    session: Session, environment_id: str, owner_kind: str, owner_ids: Sequence[str]
) -> list[Integration]:
    """The links of these owners, by owner and adapter name; no query for no owners."""
    if not owner_ids:
        return []
    stmt = (
        of_environment(Integration, environment_id)
        .where(Integration.owner_kind == owner_kind, Integration.owner_id.in_(owner_ids))
        .order_by(Integration.owner_id, Integration.name)
    )
    return list(session.scalars(stmt).all())


def delete_integrations_of(session: Session, owner_kind: str, owner_id: str) -> None:
    session.execute(
        delete(Integration).where(
            Integration.owner_kind == owner_kind, Integration.owner_id == owner_id
        )
    )


# --- usage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageContext:
    """Everything a usage read or report needs, resolved by one query."""

    instance_id: str | None
    instance_slug: str | None
    license_start: datetime | None
    license_id: str | None
    license_slug: str | None
    feature_id: str | None
    feature_slug: str | None
    feature_type: str | None
    aggregation: str | None
    reset_period: str | None
    reset_anchor: str | None
    grant_id: str | None
    is_enabled: bool | None
    usage_limit: Decimal | None
    overage_percent: Decimal | None
    config_value: Any


def usage_context(
    session: Session, environment_id: str, instance_slug: str, feature_slug: str
) -> UsageContext:
    """The instance, its license, the feature and the license's grant of it; each part is
    None when missing."""
    instance = session.execute(
        select(Instance.id, Instance.slug, Instance.start_license_date, License.id, License.slug)
        .join(License, License.id == Instance.license_id)
        .where(Instance.environment_id == environment_id, Instance.slug == instance_slug)
    ).first()
    feature = session.execute(
        select(
            Feature.id,
            Feature.lookup_key,
            Feature.type,
            Feature.usage_aggregation,
            Feature.usage_reset_period,
            Feature.usage_reset_anchor,
        ).where(
            Feature.environment_id == environment_id,
            Feature.lookup_key == feature_slug,
            Feature.status == "published",
        )
    ).first()
    granted = None
    if instance is not None and feature is not None:
        granted = session.execute(
            select(
                Entitlement.id,
                Entitlement.is_enabled,
                Entitlement.usage_limit,
                Entitlement.overage_percent,
                Entitlement.config_value,
            ).where(
                Entitlement.entity_type == LICENSE,
                Entitlement.entity_id == instance[3],
                Entitlement.feature_id == feature[0],
                Entitlement.status == "published",
            )
        ).first()
    parts: list[Any] = [
        *(tuple(instance) if instance is not None else (None,) * 5),
        *(tuple(feature) if feature is not None else (None,) * 6),
        *(tuple(granted) if granted is not None else (None,) * 5),
    ]
    return UsageContext(*parts)


@dataclass
class CounterState:
    value: Decimal
    event_count: int
    window_start: datetime | None
    last_behavior: str | None
    last_metadata: dict[str, Any] | None
    last_reported_at: datetime | None


def _state(row: UsageCounter) -> CounterState:
    return CounterState(
        row.value,
        row.event_count,
        row.window_start,
        row.last_behavior,
        row.last_metadata,
        row.last_reported_at,
    )


def counters_of(session: Session, instance_id: str) -> dict[str, CounterState]:
    rows = session.scalars(select(UsageCounter).where(UsageCounter.instance_id == instance_id))
    out: dict[str, CounterState] = {}
    for row in rows:
        out[row.feature_id] = _state(row)
    return out


def reports_of(
    session: Session, instance_id: str, feature_id: str, limit: int
) -> list[UsageReport]:
    return list(
        session.scalars(
            select(UsageReport)
            .where(UsageReport.instance_id == instance_id, UsageReport.feature_id == feature_id)
            .order_by(UsageReport.id)
            .limit(limit)
        ).all()
    )


# --- entitlement groups ------------------------------------------------------------------


def group_by_slug(session: Session, environment_id: str, slug: str) -> EntitlementGroup | None:
    return in_environment(session, EntitlementGroup, environment_id, EntitlementGroup.slug == slug)


def groups(environment_id: str) -> Select[Any]:
    return _listed(EntitlementGroup, environment_id)


def group_member(session: Session, group_id: str, feature_id: str) -> EntitlementGroupMember | None:
    return session.get(EntitlementGroupMember, (group_id, feature_id))


def group_features(session: Session, group_id: str) -> list[Feature]:
    return list(
        session.scalars(
            select(Feature)
            .join(EntitlementGroupMember, EntitlementGroupMember.feature_id == Feature.id)
            .where(EntitlementGroupMember.group_id == group_id, Feature.status == "published")
            .order_by(Feature.lookup_key)
        ).all()
    )


def delete_group(session: Session, group_id: str) -> None:
    session.execute(
        delete(EntitlementGroupMember).where(EntitlementGroupMember.group_id == group_id)
    )
    session.execute(delete(EntitlementGroup).where(EntitlementGroup.id == group_id))


def set_feature_groups(session: Session, feature_id: str, group_ids: Sequence[str]) -> None:
    session.execute(
        delete(EntitlementGroupMember).where(EntitlementGroupMember.feature_id == feature_id)
    )
    for group_id in group_ids:
        session.add(EntitlementGroupMember(group_id=group_id, feature_id=feature_id))


# --- signing keys ------------------------------------------------------------------------


def signing_key(session: Session, environment_id: str) -> str | None:
    return session.scalar(
        select(Environment.signing_key_pem).where(Environment.id == environment_id)
    )


def store_signing_key_if_missing(session: Session, environment_id: str, pem: str) -> None:
    """Keeps the first key when two requests race to create one."""
    session.execute(
        update(Environment)
        .where(Environment.id == environment_id, Environment.signing_key_pem.is_(None))
        .values(signing_key_pem=pem)
        .execution_options(synchronize_session=False)
    )
