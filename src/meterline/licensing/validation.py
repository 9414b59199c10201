"""Whether an instance's license is valid now, and why not: the pure verdict.

The codes follow Keygen's validation codes where one exists (``SUSPENDED``, ``EXPIRED``,
``TOO_MANY_MACHINES``, ``TOO_MANY_CORES``, ``FINGERPRINT_SCOPE_MISMATCH``,
``HEARTBEAT_DEAD``, ``PRODUCT_SCOPE_MISMATCH``, ``ENTITLEMENTS_MISSING``); the first rule
that fails decides, in the order of :data:`CODES`. No I/O here: ``machines.validate``
gathers the facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

VALID = "VALID"
# Every code, in the order the rules are tried.
CODES = (
    "SUSPENDED",
    "NOT_YET_VALID",
    "EXPIRED",
    "LICENSE_ARCHIVED",
    "PRODUCT_SCOPE_MISMATCH",
    "VERSION_SCOPE_MISMATCH",
    "ENTITLEMENTS_MISSING",
    "TOO_MANY_MACHINES",
    "TOO_MANY_CORES",
    "FINGERPRINT_SCOPE_MISMATCH",
    "HEARTBEAT_DEAD",
    VALID,
)


@dataclass(frozen=True)
class MachineFacts:
    id: str
    dies_at: datetime | None  # None: no heartbeat required


@dataclass(frozen=True)
class Facts:
    """What the verdict reads, gathered in one transaction."""

    now: datetime
    suspended: bool
    valid_from: datetime
    valid_until: datetime
    license_archived: bool
    product: str  # the license family's slug
    version: int
    granted: frozenset[str]  # entitlement slugs the license grants
    machines: int
    cores: int
    max_machines: int | None
    max_cores: int | None
    machine: MachineFacts | None  # the machine of the fingerprint asked about, if any


@dataclass(frozen=True)
class Scope:
    """What the caller asks to be valid besides the instance itself."""

    fingerprint: str | None = None
    product: str | None = None
    version: int | None = None
    entitlements: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Verdict:
    code: str
    detail: str
    missing: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.code == VALID


def verdict(facts: Facts, scope: Scope) -> Verdict:
    """The first rule ``facts`` fail for ``scope``, or ``VALID``."""
    if facts.suspended:
        return Verdict("SUSPENDED", "the license is suspended")
    if facts.now < facts.valid_from:
        return Verdict("NOT_YET_VALID", "the license is not valid yet")
    if facts.now > facts.valid_until:
        return Verdict("EXPIRED", "the license has expired")
    if facts.license_archived:
        return Verdict("LICENSE_ARCHIVED", "the license version is archived")
    if scope.product is not None and scope.product != facts.product:
        return Verdict("PRODUCT_SCOPE_MISMATCH", f"the license is not for {scope.product}")
    if scope.version is not None and scope.version != facts.version:
        return Verdict("VERSION_SCOPE_MISMATCH", f"the license is not version {scope.version}")
    missing = tuple(sorted(set(scope.entitlements) - facts.granted))
    if missing:
        return Verdict("ENTITLEMENTS_MISSING", "the license lacks entitlements", missing)
    if facts.max_machines is not None and facts.machines > facts.max_machines:
        return Verdict("TOO_MANY_MACHINES", "more machines are active than the license allows")
    if facts.max_cores is not None and facts.cores > facts.max_cores:
        return Verdict("TOO_MANY_CORES", "more cores are active than the license allows")
    if scope.fingerprint is not None:
        if facts.machine is None:
            return Verdict(
                "FINGERPRINT_SCOPE_MISMATCH", "no machine of this fingerprint is activated"
            )
        if facts.machine.dies_at is not None and facts.now >= facts.machine.dies_at:
            return Verdict("HEARTBEAT_DEAD", "the machine missed its heartbeat")
    return Verdict(VALID, "the license is valid")
