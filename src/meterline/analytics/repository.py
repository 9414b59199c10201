"""The SQL of saved analytics views."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.analytics.models import AnalyticsView
from meterline.db.rows import in_environment


def view(session: Session, environment_id: str, view_id: str) -> AnalyticsView | None:
    return in_environment(session, AnalyticsView, environment_id, AnalyticsView.id == view_id)


def views(session: Session, environment_id: str, family: str | None) -> list[AnalyticsView]:
    """The environment's views, oldest first, of one family or of all."""
    stmt = select(AnalyticsView).where(AnalyticsView.environment_id == environment_id)
    if family is not None:
        stmt = stmt.where(AnalyticsView.family == family)
    return list(session.scalars(stmt.order_by(AnalyticsView.created_at, AnalyticsView.id)))


def count(session: Session, environment_id: str) -> int:
    stmt = select(func.count()).where(AnalyticsView.environment_id == environment_id)
    return int(session.scalar(stmt) or 0)
