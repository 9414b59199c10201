"""Floating seats: an instance's seats (the policy's ``max_seats``) leased to holders for a
TTL, renewed, released.

A seat is out while its lease has not expired; an expired lease is no longer counted, so a
seat held by a process that died returns when its TTL passes, whatever happened to the
process or the server (nothing is released by a clean-up that might not run: the job and
each checkout only delete what no longer counts). Checkouts lock the instance's row, so
concurrent checkouts, in one process or several, never put out more seats than the limit.
One holder (a process, a user: the caller's name for it) holds at most one seat of an
instance: checking out again renews its lease, as Keygen's and FlexLM's checkouts of the
same seat are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing
from meterline.kernel.errors import Conflict
from meterline.licensing import machine_store
from meterline.licensing.machine_models import SeatLease
from meterline.licensing.machines import check_usable, instance_of, locked_instance, policy_for


@dataclass(frozen=True)
class Checkout:
    lease: SeatLease
    renewed: bool  # the holder already held a seat: its lease was extended


def checkout(
    session: Session,
    principal: Principal,
    instance_slug: str,
    holder: str,
    ttl_seconds: int | None,
    now: datetime,
) -> Checkout:
    """A seat of the instance for ``holder`` until ``now + ttl`` (the policy's default TTL
    when None); 409 ``no_seats`` when every seat is out."""
    instance = locked_instance(session, principal, instance_slug)
    check_usable(session, instance, now)
    policy = policy_for(session, instance)
    expires_at = now + timedelta(seconds=ttl_seconds or policy.default_lease_ttl_seconds)
    machine_store.expire_leases(session, now, instance_id=instance.id)
    held = machine_store.lease_of_holder(session, instance.id, holder)
    if held is not None:
        held.expires_at = expires_at
        held.renewed_at = now
        session.flush()
        return Checkout(held, renewed=True)
    out = machine_store.seats_out(session, instance.id, now)
    if policy.max_seats is not None and out >= policy.max_seats:
        raise Conflict(
            f"All {policy.max_seats} seats of the instance {instance.slug} are out",
            reason="no_seats",
        )
    lease = SeatLease(
        environment_id=principal.environment_id,
        instance_id=instance.id,
        holder=holder,
        checked_out_at=now,
        expires_at=expires_at,
    )
    session.add(lease)
    try:
        session.flush()
    except IntegrityError as exc:  # cannot happen under the row lock; said plainly if it does
        raise Conflict(f"{holder} already holds a seat", reason="holder_taken") from exc
    return Checkout(lease, renewed=False)


def renew(
    session: Session,
    principal: Principal,
    instance_slug: str,
    lease_id: str,
    ttl_seconds: int | None,
    now: datetime,
) -> SeatLease:
    """Extend a live lease to ``now + ttl``; an expired one is refused (409
    ``lease_expired``: its seat may be someone else's now) and nothing changes."""
    instance = instance_of(session, principal, instance_slug)
    found = existing(machine_store.lease(session, instance.id, lease_id), "lease", lease_id)
    if found.expires_at <= now:
        raise Conflict(f"The lease {lease_id} has expired; check out again", reason="lease_expired")
    policy = policy_for(session, instance)
    found.expires_at = now + timedelta(seconds=ttl_seconds or policy.default_lease_ttl_seconds)
    found.renewed_at = now
    session.flush()
    return found


def release(session: Session, principal: Principal, instance_slug: str, lease_id: str) -> None:
    """Return the seat now (an expired lease is deleted too: its seat was back already)."""
    instance = instance_of(session, principal, instance_slug)
    found = existing(machine_store.lease(session, instance.id, lease_id), "lease", lease_id)
    session.delete(found)
    session.flush()


def list_leases(
    session: Session, principal: Principal, instance_slug: str, now: datetime, page: tuple[int, int]
) -> list[SeatLease]:
    """The instance's leases out at ``now``, oldest first; ``page``: ``(limit, offset)``, one
    more row than ``limit`` telling there is more."""
    instance = instance_of(session, principal, instance_slug)
    return machine_store.leases_of(session, instance.id, now, (page[0] + 1, page[1]))


def expire(session: Session, now: datetime) -> int:
    """Delete every lease expired at ``now`` (the job's tick)."""
    return machine_store.expire_leases(session, now)
