"""Every query of machine licensing: policies, machines, seat leases, suspensions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from meterline.db.dialect import dialect_of
from meterline.licensing.machine_models import (
    InstanceSuspension,
    Machine,
    MachinePolicy,
    SeatLease,
)
from meterline.licensing.models import Instance


def locked_instance(session: Session, environment_id: str, slug: str) -> Instance | None:
    """The instance, its row locked until the transaction ends (PostgreSQL; a SQLite write
    transaction already excludes every other writer): what serializes activations and
    checkouts of one instance, so no limit is passed under concurrency."""
    query = select(Instance).where(Instance.environment_id == environment_id, Instance.slug == slug)
    return session.scalars(dialect_of(session).for_update(query)).first()


def policy_of(session: Session, license_id: str) -> MachinePolicy | None:
    return session.get(MachinePolicy, license_id)


def suspension_of(session: Session, instance_id: str) -> InstanceSuspension | None:
    return session.get(InstanceSuspension, instance_id)


def _alive(now: datetime) -> ColumnElement[bool]:
    return or_(Machine.cull_at.is_(None), Machine.cull_at > now)


def machines_of(
    session: Session, instance_id: str, now: datetime, page: tuple[int, int] | None = None
) -> list[Machine]:
    """The instance's machines that still count at ``now`` (dead ones within their
    resurrection window included), oldest first; ``page``: ``(limit, offset)``."""
    query = (
        select(Machine)
        .where(Machine.instance_id == instance_id, _alive(now))
        .order_by(Machine.activated_at, Machine.id)
    )
    if page is not None:
        query = query.limit(page[0]).offset(page[1])
    return list(session.scalars(query))


def counted(session: Session, instance_id: str, now: datetime) -> tuple[int, int]:
    """How many machines of the instance count at ``now``, and their cores (one aggregate,
    whatever the number of machines)."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(Machine.cores), 0)).where(
            Machine.instance_id == instance_id, _alive(now)
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def machine_of_fingerprint(
    session: Session, instance_id: str, fingerprint: str, now: datetime
) -> Machine | None:
    """The instance's counted machine of ``fingerprint`` (one index lookup)."""
    return session.scalars(
        select(Machine).where(
            Machine.instance_id == instance_id, Machine.fingerprint == fingerprint, _alive(now)
        )
    ).first()


def machine(session: Session, instance_id: str, machine_id: str) -> Machine | None:
    return session.scalars(
        select(Machine).where(Machine.instance_id == instance_id, Machine.id == machine_id)
    ).first()


def fingerprint_elsewhere(
    session: Session, environment_id: str, instance_id: str, fingerprint: str, now: datetime
) -> bool:
    """Whether another instance of the environment counts a machine of ``fingerprint``."""
    found = session.scalars(
        select(Machine.id)
        .where(
            Machine.environment_id == environment_id,
            Machine.fingerprint == fingerprint,
            Machine.instance_id != instance_id,
            _alive(now),
        )
        .limit(1)
    ).first()
    return found is not None


def cull_machines(
    session: Session,
    now: datetime,
    *,
    instance_id: str | None = None,
    claim: tuple[str, str] | None = None,
) -> int:
    """Delete the machines past their resurrection window: of one instance, of one claimed
    ``(environment, fingerprint)``, or all."""
    stmt = delete(Machine).where(Machine.cull_at <= now)
    if instance_id is not None:
        stmt = stmt.where(Machine.instance_id == instance_id)
    if claim is not None:
        stmt = stmt.where(Machine.environment_id == claim[0], Machine.fingerprint_claim == claim[1])
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def leases_of(
    session: Session, instance_id: str, now: datetime, page: tuple[int, int]
) -> list[SeatLease]:
    """The instance's leases out at ``now``, oldest first; ``page``: ``(limit, offset)``."""
    query = (
        select(SeatLease)
        .where(SeatLease.instance_id == instance_id, SeatLease.expires_at > now)
        .order_by(SeatLease.checked_out_at, SeatLease.id)
        .limit(page[0])
        .offset(page[1])
    )
    return list(session.scalars(query))


def seats_out(session: Session, instance_id: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(SeatLease)
            .where(SeatLease.instance_id == instance_id, SeatLease.expires_at > now)
        )
        or 0
    )


def lease(session: Session, instance_id: str, lease_id: str) -> SeatLease | None:
    return session.scalars(
        select(SeatLease).where(SeatLease.instance_id == instance_id, SeatLease.id == lease_id)
    ).first()


def lease_of_holder(session: Session, instance_id: str, holder: str) -> SeatLease | None:
    return session.scalars(
        select(SeatLease).where(SeatLease.instance_id == instance_id, SeatLease.holder == holder)
    ).first()


def expire_leases(session: Session, now: datetime, instance_id: str | None = None) -> int:
    """Delete the leases expired at ``now`` (of one instance, or all): their seats return."""
    stmt = delete(SeatLease).where(SeatLease.expires_at <= now)
    if instance_id is not None:
        stmt = stmt.where(SeatLease.instance_id == instance_id)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
