"""The SQL of add-ons and their associations with subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.addons.models import Addon, AddonAssociation
from meterline.db.rows import by_ids, in_environment, published_in_environment
from meterline.db.search import Search, finish, searched
from meterline.subscriptions.models import Subscription


def addon(session: Session, environment_id: str, addon_id: str) -> Addon | None:
    return in_environment(session, Addon, environment_id, Addon.id == addon_id)


def addon_by_lookup_key(session: Session, environment_id: str, lookup_key: str) -> Addon | None:
    return published_in_environment(session, Addon, environment_id, Addon.lookup_key == lookup_key)


def addons_by_id(session: Session, addon_ids: Sequence[str]) -> dict[str, Addon]:
    return by_ids(session, Addon, list(addon_ids))


@dataclass(frozen=True, kw_only=True)
class AddonQuery(Search):
    addon_ids: Sequence[str] | None = None
    lookup_keys: Sequence[str] | None = None


ADDON_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Addon.id,
    "name": Addon.name,
    "lookup_key": Addon.lookup_key,
    "description": Addon.description,
    "status": Addon.status,
    "created_at": Addon.created_at,
    "updated_at": Addon.updated_at,
}


def search(
    session: Session, environment_id: str, q: AddonQuery, limit: int, offset: int
) -> tuple[list[Addon], int]:
    stmt = searched(Addon, environment_id, q)
    if q.addon_ids:
        stmt = stmt.where(Addon.id.in_(list(q.addon_ids)))
    if q.lookup_keys:
        stmt = stmt.where(Addon.lookup_key.in_(list(q.lookup_keys)))
    return finish(session, stmt, Addon, q, ADDON_COLUMNS, limit, offset)


def association(
    session: Session, environment_id: str, association_id: str
) -> AddonAssociation | None:
    return in_environment(
        session, AddonAssociation, environment_id, AddonAssociation.id == association_id
    )


def associations_of(
    session: Session, environment_id: str, subscription_ids: Sequence[str]
) -> list[AddonAssociation]:
    """Every association of the subscriptions, oldest first."""
    if not subscription_ids:
        return []
    return list(
        session.scalars(
            select(AddonAssociation)
            .where(
                AddonAssociation.environment_id == environment_id,
                AddonAssociation.entity_type == "subscription",
                AddonAssociation.entity_id.in_(list(subscription_ids)),
                AddonAssociation.status == "published",
            )
            .order_by(AddonAssociation.start_date, AddonAssociation.id)
        )
    )


def overlapping(
    session: Session,
    environment_id: str,
    subscription_ids: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[AddonAssociation]:
    """The associations of the subscriptions that are on for some of ``[start, end)``."""
    if not subscription_ids:
        return []
    return list(
        session.scalars(
            select(AddonAssociation)
            .where(
                AddonAssociation.environment_id == environment_id,
                AddonAssociation.entity_type == "subscription",
                AddonAssociation.entity_id.in_(list(subscription_ids)),
                AddonAssociation.status == "published",
                AddonAssociation.start_date < end,
                or_(AddonAssociation.end_date.is_(None), AddonAssociation.end_date > start),
            )
            .order_by(AddonAssociation.start_date, AddonAssociation.id)
        )
    )


def live_of_addon(session: Session, environment_id: str, addon_id: str) -> list[AddonAssociation]:
    """The associations of the add-on that have not been removed."""
    return list(
        session.scalars(
            select(AddonAssociation)
            .where(
                AddonAssociation.environment_id == environment_id,
                AddonAssociation.addon_id == addon_id,
                AddonAssociation.addon_status == "active",
                AddonAssociation.status == "published",
            )
            .order_by(AddonAssociation.start_date, AddonAssociation.id)
        )
    )


def subscriptions_of(
    session: Session, associations: Sequence[AddonAssociation]
) -> dict[str, Subscription]:
    """The subscriptions of the associations, by id."""
    return by_ids(session, Subscription, sorted({a.entity_id for a in associations}))
