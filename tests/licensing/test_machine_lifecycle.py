"""Machine and lease lifecycles with time injected (no sleeps), on the server's own
database, SQLite and PostgreSQL: heartbeat death, resurrection inside the window, refusal
after it, culling (inline and by the job), lease expiry returning the seat, renewal after
expiry refused with nothing changed; and the validation verdict's order, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meterline.db.engine import Database
from meterline.kernel.errors import Conflict, NotFound
from meterline.licensing import leases, machines
from meterline.licensing.cull_job import LicensingCullJob
from meterline.licensing.machines import MachineTerms
from meterline.licensing.validation import Facts, MachineFacts, Scope, verdict
from tests.conftest import Tenant
from tests.licensing.conftest import licensed_instance, principal_of


class _Reason:
    """``with _Reason("x"):`` expects a Conflict whose reason is ``x``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        assert isinstance(exc, Conflict), f"expected a Conflict {self.reason}, got {exc!r}"
        assert exc.reason == self.reason
        return True


def test_heartbeats_death_resurrection_and_culling(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    policy = {"maxMachines": 1, "heartbeatIntervalSeconds": 60, "resurrectionWindowSeconds": 120}
    instance, _ = licensed_instance(api, policy)
    who = principal_of(tenant)
    t0 = datetime(2027, 3, 1, 12, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    with db.session() as s:
        machine_id = machines.activate(s, who, instance, MachineTerms("fp-1"), t0).id
    with db.session() as s:
        alive = machines.validate(s, who, instance, Scope(fingerprint="fp-1"), at(59))
        dead = machines.validate(s, who, instance, Scope(fingerprint="fp-1"), at(61))
        assert (alive.verdict.code, dead.verdict.code) == ("VALID", "HEARTBEAT_DEAD")
    with _Reason("machine_limit"), db.session() as s:  # dead, but inside its window: counted
        machines.activate(s, who, instance, MachineTerms("fp-2"), at(100))
    with db.session() as s:
        beat = machines.heartbeat(s, who, instance, machine_id, at(100))
        assert beat.resurrected and beat.machine.dies_at == at(160)
    with db.session() as s:  # alive again: a second beat is no resurrection
        assert not machines.heartbeat(s, who, instance, machine_id, at(150)).resurrected
    # dead at 210, culled at 330: a heartbeat then is refused and changes nothing
    with _Reason("heartbeat_dead"), db.session() as s:
        machines.heartbeat(s, who, instance, machine_id, at(330))
    with db.session() as s:
        assert machines.list_machines(s, who, instance, at(329), (10, 0))[0].id == machine_id
        assert machines.list_machines(s, who, instance, at(330), (10, 0)) == []
        with pytest.raises(NotFound):
            machines.get_machine(s, who, instance, machine_id, at(330))
    # a culled machine frees its slot at once, before any job ran
    with db.session() as s:
        second = machines.activate(s, who, instance, MachineTerms("fp-1"), at(400))
        assert second.id != machine_id
    # the job deletes what is past its window, everywhere, and only that (read at an
    # instant before every deadline, a row is listed for as long as it exists)
    job = LicensingCullJob(db)
    job.run_once(now=at(400))
    with db.session() as s:
        assert [m.id for m in machines.list_machines(s, who, instance, t0, (10, 0))] == [second.id]
    assert job.run_once(now=at(400 + 180)).machines >= 1
    with db.session() as s:
        assert machines.list_machines(s, who, instance, t0, (10, 0)) == []


def test_leases_expire_renew_and_release(api: httpx.Client, tenant: Tenant, db: Database) -> None:
    instance, _ = licensed_instance(api, {"maxSeats": 1, "defaultLeaseTtlSeconds": 30})
    who = principal_of(tenant)
    t0 = datetime(2027, 3, 1, 12, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    with db.session() as s:
        first = leases.checkout(s, who, instance, "proc-1", None, t0)
        assert not first.renewed and first.lease.expires_at == at(30)
        first_id = first.lease.id
    with db.session() as s:  # the same holder again: its own seat, renewed
        again = leases.checkout(s, who, instance, "proc-1", 60, at(10))
        assert again.renewed and again.lease.id == first_id and again.lease.expires_at == at(70)
    with _Reason("no_seats"), db.session() as s:
        leases.checkout(s, who, instance, "proc-2", None, at(20))
    with db.session() as s:
        assert leases.renew(s, who, instance, first_id, 10, at(65)).expires_at == at(75)
    # proc-1 dies: its seat returns when the lease expires; a late renewal changes nothing
    with _Reason("lease_expired"), db.session() as s:
        leases.renew(s, who, instance, first_id, None, at(75))
    with db.session() as s:
        assert leases.list_leases(s, who, instance, at(74), (10, 0))[0].id == first_id
        assert leases.list_leases(s, who, instance, at(75), (10, 0)) == []
    with db.session() as s:
        second = leases.checkout(s, who, instance, "proc-2", None, at(80)).lease.id
    with db.session() as s, pytest.raises(NotFound):  # the expired lease went with it
        leases.release(s, who, instance, first_id)
    with db.session() as s:
        leases.release(s, who, instance, second)
    with db.session() as s:
        third = leases.checkout(s, who, instance, "proc-3", 5, at(81)).lease.id
    assert LicensingCullJob(db).run_once(now=at(86)).leases >= 1
    with db.session() as s, pytest.raises(NotFound):
        leases.release(s, who, instance, third)


T0 = datetime(2027, 1, 1, tzinfo=UTC)
BASE = Facts(
    now=T0,
    suspended=False,
    valid_from=T0 - timedelta(days=1),
    valid_until=T0 + timedelta(days=1),
    license_archived=False,
    product="pro",
    version=2,
    granted=frozenset({"seats", "sso"}),
    machines=2,
    cores=8,
    max_machines=2,
    max_cores=8,
    machine=MachineFacts("m1", T0 + timedelta(seconds=1)),
)


@pytest.mark.parametrize(
    ("changes", "scope", "code"),
    [
        ({}, Scope(fingerprint="x", product="pro", version=2, entitlements=("sso",)), "VALID"),
        ({"machine": None}, Scope(), "VALID"),  # no fingerprint asked about
        ({"suspended": True, "valid_until": T0 - timedelta(seconds=1)}, Scope(), "SUSPENDED"),
        ({"valid_from": T0 + timedelta(seconds=1)}, Scope(), "NOT_YET_VALID"),
        ({"valid_until": T0 - timedelta(microseconds=1)}, Scope(), "EXPIRED"),
        ({"valid_until": T0}, Scope(), "VALID"),  # the last instant is still valid
        ({"license_archived": True}, Scope(), "LICENSE_ARCHIVED"),
        ({}, Scope(product="basic"), "PRODUCT_SCOPE_MISMATCH"),
        ({}, Scope(version=1), "VERSION_SCOPE_MISMATCH"),
        ({}, Scope(entitlements=("sso", "audit")), "ENTITLEMENTS_MISSING"),
        ({"machines": 3}, Scope(fingerprint="x"), "TOO_MANY_MACHINES"),
        ({"cores": 9, "machine": None}, Scope(fingerprint="x"), "TOO_MANY_CORES"),
        ({"max_machines": None, "machines": 99}, Scope(), "VALID"),
        ({"machine": None}, Scope(fingerprint="x"), "FINGERPRINT_SCOPE_MISMATCH"),
        ({"now": T0 + timedelta(seconds=1)}, Scope(fingerprint="x"), "HEARTBEAT_DEAD"),
        ({"machine": MachineFacts("m1", None)}, Scope(fingerprint="x"), "VALID"),
    ],
)
def test_the_first_failing_rule_decides(
    changes: dict[str, object], scope: Scope, code: str
) -> None:
    result = verdict(replace(BASE, **changes), scope)  # type: ignore[arg-type]
    assert (result.code, result.valid) == (code, code == "VALID")
