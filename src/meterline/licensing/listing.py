"""The licenses and instances as a list page shows them: one page of an environment's rows
matching a search and a status, with the total, and what each row needs beside it (a
license's instance count; an instance's machines, last heartbeat and last usage report).

Queries only, bounded by the caller's page; the caller checks the scopes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from meterline.db.search import contains, page
from meterline.licensing.machine_models import Machine
from meterline.licensing.models import Instance, License, UsageCounter

LICENSE_SORTS: dict[str, Any] = {"created_at": License.created_at, "name": License.name}
INSTANCE_SORTS: dict[str, Any] = {
    "created_at": Instance.created_at,
    "name": Instance.name,
    "end_license_date": Instance.end_license_date,
}


@dataclass(frozen=True)
class Activity:
    """What an instance has done: its machines, and when it last checked in and reported."""

    machines: int = 0
    last_heartbeat: datetime | None = None
    last_report: datetime | None = None


def _sorted(stmt: Select[Any], column: Any, ascending: bool, id_column: Any) -> Select[Any]:
    if ascending:
        return stmt.order_by(column.asc(), id_column.asc())
    return stmt.order_by(column.desc(), id_column.desc())


def search_licenses(
    session: Session,
    environment_id: str,
    *,
    query: str,
    state: str | None,
    sort: str,
    ascending: bool,
    limit: int,
    offset: int,
) -> tuple[list[License], int]:
    """Licenses whose name or slug contains ``query`` (any, when empty), in ``state``."""
    stmt = select(License).where(License.environment_id == environment_id)
    if query:
        stmt = stmt.where(or_(contains(License.name, query), contains(License.slug, query)))
    if state:
        stmt = stmt.where(License.lifecycle_state == state)
    stmt = _sorted(stmt, LICENSE_SORTS[sort], ascending, License.id)
    return page(session, stmt, limit, offset)


def instance_counts(session: Session, license_ids: Sequence[str]) -> dict[str, int]:
    """License id → how many instances hold it; one query, none for no ids."""
    if not license_ids:
        return {}
    rows = session.execute(
        select(Instance.license_id, func.count())
        .where(Instance.license_id.in_(list(license_ids)))
        .group_by(Instance.license_id)
    ).all()
    return {license_id: int(count) for license_id, count in rows}


def licenses_of(
    session: Session, environment_id: str, license_ids: Sequence[str]
) -> dict[str, License]:
    """The environment's licenses with these ids, by id; no query for no ids."""
    if not license_ids:
        return {}
    stmt = select(License).where(
        License.environment_id == environment_id, License.id.in_(sorted(set(license_ids)))
    )
    return {lic.id: lic for lic in session.scalars(stmt).all()}


def search_instances(
    session: Session,
    environment_id: str,
    *,
    query: str,
    status: str | None,
    license_id: str | None,
    sort: str,
    ascending: bool,
    limit: int,
    offset: int,
) -> tuple[list[Instance], int]:
    """Instances whose name or slug contains ``query`` (any, when empty), in ``status``,
    holding ``license_id``."""
    stmt = select(Instance).where(Instance.environment_id == environment_id)
    if query:
        stmt = stmt.where(or_(contains(Instance.name, query), contains(Instance.slug, query)))
    if status:
        stmt = stmt.where(Instance.status == status)
    if license_id:
        stmt = stmt.where(Instance.license_id == license_id)
    stmt = _sorted(stmt, INSTANCE_SORTS[sort], ascending, Instance.id)
    return page(session, stmt, limit, offset)


def activity_of(session: Session, instance_ids: Sequence[str]) -> dict[str, Activity]:
    """Instance id → its :class:`Activity` (absent: none yet); two queries."""
    if not instance_ids:
        return {}
    ids = list(instance_ids)
    machines = {
        instance_id: (int(count), last)
        for instance_id, count, last in session.execute(
            select(Machine.instance_id, func.count(), func.max(Machine.last_heartbeat_at))
            .where(Machine.instance_id.in_(ids))
            .group_by(Machine.instance_id)
        ).all()
    }
    reports = dict(
        session.execute(
            select(UsageCounter.instance_id, func.max(UsageCounter.last_reported_at))
            .where(UsageCounter.instance_id.in_(ids))
            .group_by(UsageCounter.instance_id)
        ).all()
    )
    out = {}
    for instance_id in ids:
        count, heartbeat = machines.get(instance_id, (0, None))
        out[instance_id] = Activity(count, heartbeat, reports.get(instance_id))
    return out
