"""Every query of the credit grants domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from meterline.addons.models import AddonAssociation
from meterline.credits.models import CreditGrant, CreditGrantApplication
from meterline.db.search import page
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.repository import LIVE_STATUSES


def get(session: Session, environment_id: str, grant_id: str) -> CreditGrant | None:
    return session.scalars(
        select(CreditGrant).where(
            CreditGrant.id == grant_id,
            CreditGrant.environment_id == environment_id,
            CreditGrant.status == "published",
        )
    ).first()


def search(
    session: Session,
    environment_id: str,
    *,
    limit: int,
    offset: int,
    plan_ids: Sequence[str] | None = None,
    subscription_ids: Sequence[str] | None = None,
    scope: str | None = None,
) -> tuple[list[CreditGrant], int]:
    stmt = select(CreditGrant).where(
        CreditGrant.environment_id == environment_id, CreditGrant.status == "published"
    )
    if plan_ids:
        stmt = stmt.where(CreditGrant.plan_id.in_(list(plan_ids)))
    if subscription_ids:
        stmt = stmt.where(CreditGrant.subscription_id.in_(list(subscription_ids)))
    if scope:
        stmt = stmt.where(CreditGrant.scope == scope)
    stmt = stmt.order_by(CreditGrant.created_at.desc(), CreditGrant.id.desc())
    return page(session, stmt, limit, offset)


def live_grants(session: Session, *, after_id: str | None, limit: int) -> list[CreditGrant]:
    """Published grants of every environment, by id, a page at a time (the job's walk)."""
    stmt = select(CreditGrant).where(CreditGrant.status == "published")
    if after_id is not None:
        stmt = stmt.where(CreditGrant.id > after_id)
    return list(session.scalars(stmt.order_by(CreditGrant.id).limit(limit)).all())


def receiving_subscriptions(session: Session, grant: CreditGrant) -> list[Subscription]:
    """The live subscriptions a grant applies to: its own, every one of its plan, or every
    one that has (or had) its add-on."""
    stmt = select(Subscription).where(
        Subscription.environment_id == grant.environment_id,
        Subscription.status == "published",
        Subscription.subscription_status.in_(LIVE_STATUSES),
    )
    if grant.scope == "ADDON":
        holders = select(AddonAssociation.entity_id).where(
            AddonAssociation.environment_id == grant.environment_id,
            AddonAssociation.addon_id == grant.addon_id,
            AddonAssociation.status == "published",
        )
        stmt = stmt.where(Subscription.id.in_(holders))
    elif grant.scope == "SUBSCRIPTION":
        stmt = stmt.where(Subscription.id == grant.subscription_id)
    else:
        stmt = stmt.where(Subscription.plan_id == grant.plan_id)
    return list(session.scalars(stmt.order_by(Subscription.id)).all())


def grants_for_subscription(session: Session, sub: Subscription) -> list[CreditGrant]:
    """The published grants that apply to ``sub``: its own and its plan's."""
    return list(
        session.scalars(
            select(CreditGrant)
            .where(
                CreditGrant.environment_id == sub.environment_id,
                CreditGrant.status == "published",
                or_(
                    (CreditGrant.scope == "SUBSCRIPTION") & (CreditGrant.subscription_id == sub.id),
                    (CreditGrant.scope == "PLAN") & (CreditGrant.plan_id == sub.plan_id),
                ),
            )
            .order_by(CreditGrant.created_at, CreditGrant.id)
        ).all()
    )


def last_applied(session: Session, grant_id: str) -> dict[str, datetime]:
    """Subscription id → the start of the latest period the grant was applied for."""
    rows = session.execute(
        select(
            CreditGrantApplication.subscription_id,
            func.max(CreditGrantApplication.period_start),
        )
        .where(CreditGrantApplication.credit_grant_id == grant_id)
        .group_by(CreditGrantApplication.subscription_id)
    ).all()
    return {subscription_id: start for subscription_id, start in rows}


def applications(
    session: Session, environment_id: str, grant_id: str
) -> list[CreditGrantApplication]:
    return list(
        session.scalars(
            select(CreditGrantApplication)
            .where(
                CreditGrantApplication.environment_id == environment_id,
                CreditGrantApplication.credit_grant_id == grant_id,
            )
            .order_by(CreditGrantApplication.period_start, CreditGrantApplication.id)
        ).all()
    )


def addon_window(
    session: Session, grant: CreditGrant, sub: Subscription
) -> tuple[datetime, datetime | None] | None:
    """When ``sub`` had the ADDON grant's add-on: from its first association's start to its
    last one's end (None: still on); None when it never had it."""
    found = list(
        session.scalars(
            select(AddonAssociation).where(
                AddonAssociation.environment_id == grant.environment_id,
                AddonAssociation.addon_id == grant.addon_id,
                AddonAssociation.entity_id == sub.id,
                AddonAssociation.status == "published",
            )
        ).all()
    )
    if not found:
        return None
    ends = [a.end_date for a in found]
    return min(a.start_date for a in found), (
        None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    )


def search_addon_grants(
    session: Session, environment_id: str, addon_id: str, limit: int
) -> list[CreditGrant]:
    return list(
        session.scalars(
            select(CreditGrant)
            .where(
                CreditGrant.environment_id == environment_id,
                CreditGrant.status == "published",
                CreditGrant.scope == "ADDON",
                CreditGrant.addon_id == addon_id,
            )
            .order_by(CreditGrant.created_at.desc(), CreditGrant.id.desc())
            .limit(limit)
        ).all()
    )
