"""/api machine licensing (Meterline extensions, Kaiten-shaped): a license's machine policy,
machines of an instance (activation, heartbeat, deactivation), suspension and validation.
Floating seats are in ``leases.py``. Rules: ``licensing/machines.py``; docs/licensing.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field, StrictBool

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import (
    SLUG,
    Body,
    Page,
    ReadInstances,
    ReadLicenses,
    WriteInstances,
    WriteLicenses,
    compact,
)
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.db.base import utcnow
from meterline.licensing import machines as service
from meterline.licensing.machine_models import Machine
from meterline.licensing.machines import MachineTerms, PolicyTerms
from meterline.licensing.validation import Scope

router = APIRouter(tags=["machines"])

THIRTY_DAYS = 30 * 86400
DAY = 86400


class PolicyIn(Body):
    """The whole policy: an omitted limit is unlimited."""

    maxMachines: int | None = Field(default=None, ge=0, le=1_000_000)
    maxCores: int | None = Field(default=None, ge=0, le=100_000_000)
    maxSeats: int | None = Field(default=None, ge=0, le=1_000_000)
    heartbeatIntervalSeconds: int | None = Field(default=None, ge=1, le=THIRTY_DAYS)
    resurrectionWindowSeconds: int = Field(default=0, ge=0, le=THIRTY_DAYS)
    uniqueFingerprint: StrictBool = False
    defaultLeaseTtlSeconds: int = Field(default=service.DEFAULT_LEASE_TTL_SECONDS, ge=1, le=DAY)

    def terms(self) -> PolicyTerms:
        return PolicyTerms(
            max_machines=self.maxMachines,
            max_cores=self.maxCores,
            max_seats=self.maxSeats,
            heartbeat_interval_seconds=self.heartbeatIntervalSeconds,
            resurrection_window_seconds=self.resurrectionWindowSeconds,
            unique_fingerprint=self.uniqueFingerprint,
            default_lease_ttl_seconds=self.defaultLeaseTtlSeconds,
        )


def policy_out(terms: PolicyTerms) -> dict[str, Any]:
    return {
        "maxMachines": terms.max_machines,
        "maxCores": terms.max_cores,
        "maxSeats": terms.max_seats,
        "heartbeatIntervalSeconds": terms.heartbeat_interval_seconds,
        "resurrectionWindowSeconds": terms.resurrection_window_seconds,
        "uniqueFingerprint": terms.unique_fingerprint,
        "defaultLeaseTtlSeconds": terms.default_lease_ttl_seconds,
    }


class MachineIn(Body):
    fingerprint: str = Field(min_length=1, max_length=255)
    hostname: str | None = Field(default=None, min_length=1, max_length=255)
    platform: str | None = Field(default=None, min_length=1, max_length=100)
    cores: int | None = Field(default=None, ge=1, le=1_000_000)


def machine_out(machine: Machine, now: datetime, **extra: Any) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(machine.id),
            "fingerprint": machine.fingerprint,
            "hostname": machine.hostname,
            "platform": machine.platform,
            "cores": machine.cores,
            "status": "ALIVE" if service.is_alive(machine, now) else "DEAD",
            "activatedAt": iso(machine.activated_at),
            "lastHeartbeatAt": iso(machine.last_heartbeat_at),
            "heartbeatDueAt": iso(machine.dies_at),
            "cullAt": iso(machine.cull_at),
            **extra,
        }
    )


def _machine_id(given: str) -> str:
    return id_of(given, "mach", "machine")


@router.get("/licenses/{licenseSlug}/machine-policy")
def get_policy(licenseSlug: str, principal: ReadLicenses, session: ReadSession) -> Response:
    """The license's machine, core and seat limits and heartbeat rules (Meterline extension)."""
    return json_response(policy_out(service.get_policy(session, principal, licenseSlug)))


@router.put("/licenses/{licenseSlug}/machine-policy")
def put_policy(
    licenseSlug: str, body: PolicyIn, principal: WriteLicenses, session: WriteSession
) -> Response:
    """Replace the license's machine policy (Meterline extension)."""
    terms = service.put_policy(session, principal, licenseSlug, body.terms())
    return json_response(policy_out(terms))


@router.get("/instances/{instanceSlug}/machines")
def list_machines(
    instanceSlug: str, principal: ReadInstances, session: ReadSession, page: Page = Depends()
) -> Response:
    """The instance's machines that count, oldest first (dead ones in their window too)."""
    now = utcnow()
    rows = service.list_machines(session, principal, instanceSlug, now, (page.limit, page.offset))
    return page.answer(rows, lambda m: machine_out(m, now))


@router.post("/instances/{instanceSlug}/machines", status_code=201)
def activate_machine(
    instanceSlug: str, body: MachineIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """Activate a machine by its fingerprint, within the license's machine and core limits."""
    now = utcnow()
    terms = MachineTerms(body.fingerprint, body.hostname, body.platform, body.cores)
    machine = service.activate(session, principal, instanceSlug, terms, now)
    return json_response(machine_out(machine, now), 201)


@router.get("/instances/{instanceSlug}/machines/{machineId}")
def get_machine(
    instanceSlug: str, machineId: str, principal: ReadInstances, session: ReadSession
) -> Response:
    now = utcnow()
    found = service.get_machine(session, principal, instanceSlug, _machine_id(machineId), now)
    return json_response(machine_out(found, now))


@router.delete("/instances/{instanceSlug}/machines/{machineId}", status_code=204)
def deactivate_machine(
    instanceSlug: str, machineId: str, principal: WriteInstances, session: WriteSession
) -> Response:
    """Deactivate the machine: its slot and cores are free at once."""
    service.deactivate(session, principal, instanceSlug, _machine_id(machineId))
    return Response(status_code=204)


@router.post("/instances/{instanceSlug}/machines/{machineId}/heartbeat")
def machine_heartbeat(
    instanceSlug: str, machineId: str, principal: WriteInstances, session: WriteSession
) -> Response:
    """The machine is alive; a dead one within its resurrection window comes back."""
    now = utcnow()
    beat = service.heartbeat(session, principal, instanceSlug, _machine_id(machineId), now)
    return json_response(machine_out(beat.machine, now, resurrected=beat.resurrected))


class SuspensionIn(Body):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


@router.put("/instances/{instanceSlug}/suspension", status_code=204)
def suspend_instance(
    instanceSlug: str, body: SuspensionIn, principal: WriteInstances, session: WriteSession
) -> Response:
    """Suspend the instance's license: it validates as SUSPENDED and activates nothing."""
    service.suspend(session, principal, instanceSlug, body.reason, utcnow())
    return Response(status_code=204)


@router.delete("/instances/{instanceSlug}/suspension", status_code=204)
def reinstate_instance(
    instanceSlug: str, principal: WriteInstances, session: WriteSession
) -> Response:
    service.reinstate(session, principal, instanceSlug)
    return Response(status_code=204)


EntitlementSlug = Annotated[str, Field(min_length=1, max_length=100)]


class ValidateIn(Body):
    fingerprint: str | None = Field(default=None, min_length=1, max_length=255)
    product: str | None = Field(
        default=None, min_length=2, max_length=100, pattern=SLUG, description="A family slug."
    )
    version: int | None = Field(default=None, ge=1, le=1_000_000)
    entitlements: list[EntitlementSlug] = Field(default_factory=list, max_length=100)


@router.post("/instances/{instanceSlug}/validate")
def validate_instance(
    instanceSlug: str, body: ValidateIn, principal: ReadInstances, session: ReadSession
) -> Response:
    """Whether the instance's license is valid now for the given scope (200 either way),
    with a machine-readable ``code`` saying why not."""
    now = utcnow()
    scope = Scope(body.fingerprint, body.product, body.version, tuple(body.entitlements))
    result = service.validate(session, principal, instanceSlug, scope, now)
    verdict, instance = result.verdict, result.instance
    return json_response(
        compact(
            {
                "valid": verdict.valid,
                "code": verdict.code,
                "detail": verdict.detail,
                "missingEntitlements": list(verdict.missing) or None,
                "instanceId": wire_id(instance.id),
                "instanceSlug": instance.slug,
                "validUntil": iso(instance.end_license_date),
                "machine": machine_out(result.machine, now) if result.machine else None,
                "checkedAt": iso(now),
            }
        )
    )
