"""The audit trail of instances: every instance, license, grant and usage change, with who
made it and when.

:func:`record` adds an entry in the caller's transaction (the licensing services' write
paths call it). An instance's entries name it; a license or grant change is kept once, naming
the license, and read into the trail of each instance under that license (from the
instance's creation on). Accepted usage reports are entered by the report writer with
:func:`add_usage_entries`, in the batch's own transaction and multi-row INSERT.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.dialect import SqlDialect
from meterline.kernel.money import decimal_text
from meterline.licensing.common import actor
from meterline.licensing.distribution_models import AuditEntry
from meterline.licensing.models import Instance

_TYPES = {
    "INSTANCE_CREATED": "com.kaiten.instance.v1.created",
    "INSTANCE_UPDATED": "com.kaiten.instance.v1.updated",
    "INSTANCE_STATUS_CHANGED": "com.kaiten.instance.v1.status_changed",
    "INSTANCE_LIFECYCLE_STAGE_CHANGED": "com.kaiten.instance.v1.lifecycle_stage_changed",
    "INSTANCE_DELETED": "com.kaiten.instance.v1.deleted",
    "LICENSE_CREATED": "com.kaiten.license.v1.created",
    "LICENSE_UPDATED": "com.kaiten.license.v1.updated",
    "LICENSE_PUBLISHED": "com.kaiten.license.v1.published",
    "LICENSE_ARCHIVED": "com.kaiten.license.v1.archived",
    "LICENSE_UNARCHIVED": "com.kaiten.license.v1.unarchived",
    "LICENSE_DELETED": "com.kaiten.license.v1.deleted",
    "LICENSE_ENTITLEMENT_ASSIGNED": "com.kaiten.license.entitlement.v1.assigned",
    "LICENSE_ENTITLEMENT_UPDATED": "com.kaiten.license.entitlement.v1.updated",
    "LICENSE_ENTITLEMENT_UNASSIGNED": "com.kaiten.license.entitlement.v1.unassigned",
    "ENTITLEMENT_USAGE_REPORT_ACCEPTED": (
        "com.kaiten.instance.entitlement.v1.usage_report_accepted"
    ),
}
USAGE_ACCEPTED = "ENTITLEMENT_USAGE_REPORT_ACCEPTED"


def event_type(event_name: str) -> str:
    return _TYPES[event_name]


def record(
    session: Session,
    principal: Principal,
    event_name: str,
    *,
    instance: Instance | None = None,
    license_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """An entry about ``instance``, or (without one) about the license ``license_id``."""
    session.add(
        AuditEntry(
            id=new_id("aud"),
            environment_id=principal.environment_id,
            event_name=event_name,
            event_type=_TYPES[event_name],
            instance_id=instance.id if instance is not None else None,
            instance_slug=instance.slug if instance is not None else None,
            license_id=license_id if instance is None else instance.license_id,
            actor=actor(principal),
            payload=payload,
            created_at=utcnow(),
        )
    )


# --- usage reports, from the report writer's batch ---------------------------------------

_COLUMNS = (
    "id",
    "environment_id",
    "event_name",
    "event_type",
    "instance_id",
    "instance_slug",
    "actor",
    "payload",
    "created_at",
)
ROWS_PER_STATEMENT = 1000


def usage_entry(
    instance_slug: str, entitlement_slug: str, ledger_row: dict[str, Any]
) -> tuple[Any, ...]:
    """The entry of one accepted report, from its ledger row (values not yet adapted)."""
    return (
        ledger_row["id"].replace("urep_", "aud_", 1),
        ledger_row["environment_id"],
        USAGE_ACCEPTED,
        _TYPES[USAGE_ACCEPTED],
        ledger_row["instance_id"],
        instance_slug,
        ledger_row["key_id"],
        {
            "entitlementSlug": entitlement_slug,
            "behavior": ledger_row["behavior"],
            "value": decimal_text(ledger_row["reported_value"]),
            "previousValue": decimal_text(ledger_row["previous_value"]),
            "resultingValue": decimal_text(ledger_row["resulting_value"]),
            "usageReportId": ledger_row["id"],
        },
        ledger_row["created_at"],
    )


@functools.lru_cache(maxsize=64)
def _insert(postgres: bool, count: int) -> str:
    mark = "%s" if postgres else "?"
    row = "(" + ", ".join([mark] * len(_COLUMNS)) + ")"
    return f"INSERT INTO audit_entries ({', '.join(_COLUMNS)}) VALUES " + ", ".join([row] * count)


def add_usage_entries(conn: Any, dialect: SqlDialect, entries: Sequence[tuple[Any, ...]]) -> None:
    """The entries of :func:`usage_entry` in one multi-row INSERT per thousand (DBAPI
    connection of the writer's transaction)."""
    moment, as_json = dialect.moment_in, dialect.json_in
    for start in range(0, len(entries), ROWS_PER_STATEMENT):
        chunk = entries[start : start + ROWS_PER_STATEMENT]
        params: list[Any] = []
        for entry in chunk:
            params += (*entry[:7], as_json(entry[7]), moment(entry[8]))
        cursor = conn.cursor()
        try:
            cursor.execute(_insert(dialect.postgres, len(chunk)), params)
        finally:
            cursor.close()


# --- reading an instance's trail ---------------------------------------------------------


@dataclass(frozen=True)
class TrailQuery:
    event_name: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    limit: int = 50
    before_seq: int | None = None  # the cursor: entries older than this one


def trail(session: Session, instance: Instance, query: TrailQuery) -> list[AuditEntry]:
    """Up to ``limit + 1`` entries of ``instance``'s trail, newest first."""
    concerns = or_(
        AuditEntry.instance_id == instance.id,
        and_(
            AuditEntry.instance_id.is_(None),
            AuditEntry.license_id == instance.license_id,
            AuditEntry.created_at >= instance.created_at,
        ),
    )
    stmt = select(AuditEntry).where(AuditEntry.environment_id == instance.environment_id, concerns)
    if query.event_name is not None:
        stmt = stmt.where(AuditEntry.event_name == query.event_name)
    if query.after is not None:
        stmt = stmt.where(AuditEntry.created_at >= query.after)
    if query.before is not None:
        stmt = stmt.where(AuditEntry.created_at <= query.before)
    if query.before_seq is not None:
        stmt = stmt.where(AuditEntry.seq < query.before_seq)
    stmt = stmt.order_by(AuditEntry.seq.desc()).limit(query.limit + 1)
    return list(session.scalars(stmt))
