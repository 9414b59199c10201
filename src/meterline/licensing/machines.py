"""Machines: a license's machine policy, activation with a fingerprint, deactivation,
heartbeats (death, resurrection, culling), suspension, and validation.

Limits (machines, cores) hold per instance and are checked with the instance's row locked
(``machine_store.locked_instance``), so concurrent activations never pass them. A machine
under a policy with a heartbeat interval dies ``interval`` after its last heartbeat (its
activation is the first), may come back with a heartbeat for ``resurrection_window`` more,
and after that is culled: no longer counted, deleted by the next activation or by the
``licensing_cull`` job, whichever comes first. Dead machines within their window still
count towards the limits, as in Keygen (a resurrection never finds the limit full).
A policy change applies to a machine from its next heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.rows import existing
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.licensing import licenses, machine_store, repository
from meterline.licensing.common import actor, flush_unique
from meterline.licensing.machine_models import InstanceSuspension, Machine, MachinePolicy
from meterline.licensing.models import Instance
from meterline.licensing.validation import Facts, MachineFacts, Scope, Verdict, verdict

DEFAULT_LEASE_TTL_SECONDS = 300


# --- policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTerms:
    """A license's machine policy, stated whole (``None`` limits are unlimited)."""

    max_machines: int | None = None
    max_cores: int | None = None
    max_seats: int | None = None
    heartbeat_interval_seconds: int | None = None
    resurrection_window_seconds: int = 0
    unique_fingerprint: bool = False
    default_lease_ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS


def _terms(policy: MachinePolicy | None) -> PolicyTerms:
    if policy is None:
        return PolicyTerms()
    return PolicyTerms(
        max_machines=policy.max_machines,
        max_cores=policy.max_cores,
        max_seats=policy.max_seats,
        heartbeat_interval_seconds=policy.heartbeat_interval_seconds,
        resurrection_window_seconds=policy.resurrection_window_seconds,
        unique_fingerprint=policy.unique_fingerprint,
        default_lease_ttl_seconds=policy.default_lease_ttl_seconds,
    )


def get_policy(session: Session, principal: Principal, license_slug: str) -> PolicyTerms:
    found = licenses.get_license(session, principal, license_slug)
    return _terms(machine_store.policy_of(session, found.id))


def put_policy(
    session: Session, principal: Principal, license_slug: str, terms: PolicyTerms
) -> PolicyTerms:
    """Replace the license's machine policy; machines already over a lowered limit stay
    (they validate as ``TOO_MANY_MACHINES`` until some are deactivated)."""
    found = licenses.get_license(session, principal, license_slug)
    policy = machine_store.policy_of(session, found.id)
    if policy is None:
        policy = MachinePolicy(license_id=found.id, environment_id=principal.environment_id)
        session.add(policy)
    policy.max_machines = terms.max_machines
    policy.max_cores = terms.max_cores
    policy.max_seats = terms.max_seats
    policy.heartbeat_interval_seconds = terms.heartbeat_interval_seconds
    policy.resurrection_window_seconds = terms.resurrection_window_seconds
    policy.unique_fingerprint = terms.unique_fingerprint
    policy.default_lease_ttl_seconds = terms.default_lease_ttl_seconds
    flush_unique(session, "the machine policy")  # a concurrent first PUT: 409, not a 500
    return _terms(policy)


def policy_for(session: Session, instance: Instance) -> PolicyTerms:
    return _terms(machine_store.policy_of(session, instance.license_id))


# --- instances, locked -------------------------------------------------------------------


def instance_of(session: Session, principal: Principal, slug: str) -> Instance:
    found = repository.instance_by_slug(session, principal.environment_id, slug)
    return existing(found, "instance", slug)


def locked_instance(session: Session, principal: Principal, slug: str) -> Instance:
    found = machine_store.locked_instance(session, principal.environment_id, slug)
    return existing(found, "instance", slug)


def check_usable(session: Session, instance: Instance, now: datetime) -> None:
    """Refuse (409) to activate or lease under a suspended instance or outside its dates."""
    if machine_store.suspension_of(session, instance.id) is not None:
        raise Conflict(f"The instance {instance.slug} is suspended", reason="suspended")
    if not instance.start_license_date <= now <= instance.end_license_date:
        raise Conflict(
            f"The license of the instance {instance.slug} is not valid now",
            reason="license_expired",
        )


# --- machines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineTerms:
    fingerprint: str
    hostname: str | None = None
    platform: str | None = None
    cores: int | None = None


def _deadlines(machine: Machine, policy: PolicyTerms, now: datetime) -> None:
    machine.last_heartbeat_at = now
    if policy.heartbeat_interval_seconds is None:
        machine.dies_at = machine.cull_at = None
        return
    machine.dies_at = now + timedelta(seconds=policy.heartbeat_interval_seconds)
    machine.cull_at = machine.dies_at + timedelta(seconds=policy.resurrection_window_seconds)


def activate(
    session: Session,
    principal: Principal,
    instance_slug: str,
    terms: MachineTerms,
    now: datetime,
) -> Machine:
    """A new machine of the instance, within the policy's machine and core limits."""
    instance = locked_instance(session, principal, instance_slug)
    check_usable(session, instance, now)
    policy = policy_for(session, instance)
    machine_store.cull_machines(session, now, instance_id=instance.id)
    count, used = machine_store.counted(session, instance.id, now)
    taken = Conflict(
        f"The fingerprint {terms.fingerprint} is already activated", reason="fingerprint_taken"
    )
    if machine_store.machine_of_fingerprint(session, instance.id, terms.fingerprint, now):
        raise taken
    if policy.unique_fingerprint:
        claim = (principal.environment_id, terms.fingerprint)
        machine_store.cull_machines(session, now, claim=claim)
        if machine_store.fingerprint_elsewhere(
            session, principal.environment_id, instance.id, terms.fingerprint, now
        ):
            raise taken
    if policy.max_machines is not None and count >= policy.max_machines:
        raise Conflict(
            f"The instance {instance.slug} has {count} of its {policy.max_machines} "
            "machines active",
            reason="machine_limit",
        )
    if policy.max_cores is not None:
        if terms.cores is None:
            raise InvalidRequest(
                "the license limits cores: state the machine's cores",
                field="cores",
                reason="cores_required",
            )
        if used + terms.cores > policy.max_cores:
            raise Conflict(
                f"The instance {instance.slug} has {used} of its {policy.max_cores} cores active",
                reason="core_limit",
            )
    machine = Machine(
        environment_id=principal.environment_id,
        instance_id=instance.id,
        fingerprint=terms.fingerprint,
        fingerprint_claim=terms.fingerprint if policy.unique_fingerprint else None,
        hostname=terms.hostname,
        platform=terms.platform,
        cores=terms.cores,
        activated_at=now,
        created_by=actor(principal),
    )
    _deadlines(machine, policy, now)
    session.add(machine)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent activation of the fingerprint won
        raise taken from exc
    return machine


def list_machines(
    session: Session, principal: Principal, instance_slug: str, now: datetime, page: tuple[int, int]
) -> list[Machine]:
    """``page``: ``(limit, offset)``; one more row than ``limit`` tells there is more."""
    instance = instance_of(session, principal, instance_slug)
    return machine_store.machines_of(session, instance.id, now, (page[0] + 1, page[1]))


def get_machine(
    session: Session, principal: Principal, instance_slug: str, machine_id: str, now: datetime
) -> Machine:
    instance = instance_of(session, principal, instance_slug)
    found = machine_store.machine(session, instance.id, machine_id)
    if found is None or (found.cull_at is not None and found.cull_at <= now):
        raise NotFound("machine", machine_id)
    return found


def deactivate(session: Session, principal: Principal, instance_slug: str, machine_id: str) -> None:
    instance = instance_of(session, principal, instance_slug)
    found = existing(machine_store.machine(session, instance.id, machine_id), "machine", machine_id)
    session.delete(found)
    session.flush()


@dataclass(frozen=True)
class Heartbeat:
    machine: Machine
    resurrected: bool


def heartbeat(
    session: Session, principal: Principal, instance_slug: str, machine_id: str, now: datetime
) -> Heartbeat:
    """The machine is alive at ``now``: a dead one within its window comes back; one past
    it is refused (409 ``heartbeat_dead``: activate it again) and nothing changes."""
    instance = instance_of(session, principal, instance_slug)
    found = existing(machine_store.machine(session, instance.id, machine_id), "machine", machine_id)
    if found.cull_at is not None and found.cull_at <= now:
        raise Conflict(
            f"The machine {machine_id} is dead past its resurrection window; activate it again",
            reason="heartbeat_dead",
        )
    resurrected = found.dies_at is not None and found.dies_at <= now
    _deadlines(found, policy_for(session, instance), now)
    session.flush()
    return Heartbeat(found, resurrected)


def is_alive(machine: Machine, now: datetime) -> bool:
    return machine.dies_at is None or now < machine.dies_at


def cull(session: Session, now: datetime) -> int:
    """Delete every machine past its resurrection window (the job's tick)."""
    return machine_store.cull_machines(session, now)


# --- suspension --------------------------------------------------------------------------


def suspend(
    session: Session, principal: Principal, instance_slug: str, reason: str | None, now: datetime
) -> None:
    """Suspend the instance's license (again: the reason is replaced)."""
    instance = instance_of(session, principal, instance_slug)
    found = machine_store.suspension_of(session, instance.id)
    if found is None:
        found = InstanceSuspension(
            instance_id=instance.id, environment_id=principal.environment_id, suspended_at=now
        )
        session.add(found)
    found.reason = reason
    found.suspended_by = actor(principal)
    session.flush()


def reinstate(session: Session, principal: Principal, instance_slug: str) -> None:
    """Lift the suspension (none: nothing to do)."""
    instance = instance_of(session, principal, instance_slug)
    found = machine_store.suspension_of(session, instance.id)
    if found is not None:
        session.delete(found)
        session.flush()


# --- validation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    instance: Instance
    verdict: Verdict
    machine: Machine | None


def validate(
    session: Session, principal: Principal, instance_slug: str, scope: Scope, now: datetime
) -> Validation:
    """Whether the instance's license (and the machine of ``scope.fingerprint``) is valid
    at ``now`` for ``scope``, and if not, the first reason why."""
    instance = instance_of(session, principal, instance_slug)
    lic = repository.license_by_id(session, principal.environment_id, instance.license_id)
    assert lic is not None  # an instance's license cannot be deleted while it is in use
    family = repository.family_by_id(session, principal.environment_id, lic.family_id)
    policy = policy_for(session, instance)
    count, cores = machine_store.counted(session, instance.id, now)
    mine = (
        machine_store.machine_of_fingerprint(session, instance.id, scope.fingerprint, now)
        if scope.fingerprint is not None
        else None
    )
    facts = Facts(
        now=now,
        suspended=machine_store.suspension_of(session, instance.id) is not None,
        valid_from=instance.start_license_date,
        valid_until=instance.end_license_date,
        license_archived=lic.lifecycle_state == "ARCHIVED",
        product=family.slug if family is not None else "",
        version=lic.version,
        granted=frozenset(f.lookup_key for _, f in repository.all_grants_of(session, lic.id)),
        machines=count,
        cores=cores,
        max_machines=policy.max_machines,
        max_cores=policy.max_cores,
        machine=MachineFacts(mine.id, mine.dies_at) if mine is not None else None,
    )
    return Validation(instance, verdict(facts, scope), mine)
