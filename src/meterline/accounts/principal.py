"""Who is calling: the identity an API key resolves to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

FULL_ACCESS = "*"
# The /v1 areas of the finance and developer roles (accounts/roles.py): ``billing`` covers
# them, so a ``write:billing`` key does everything on /v1 it did before roles.
BILLING_AREAS = frozenset({"finance", "developer"})


@dataclass(frozen=True)
class Principal:
    organization_id: str
    environment_id: str
    key_id: str
    user_id: str | None = None
    customer_external_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_customer_scoped(self) -> bool:
        return self.customer_external_id is not None

    @property
    def has_full_access(self) -> bool:
        """Every right in the organization: ``*``, and not narrowed to one customer. Only
        such a key acts on environments other than its own."""
        return FULL_ACCESS in self.scopes and not self.is_customer_scoped

    def reaches(self, environment_id: str) -> bool:
        """May act on ``environment_id``: its own environment, or any with full access."""
        return environment_id == self.environment_id or self.has_full_access

    def ungrantable(self, scopes: Iterable[str] | None) -> str | None:
        """The first of ``scopes`` (``None`` = every right) this key could not grant, as it
        does not hold it itself; ``None`` when it could grant them all. The one rule for
        minting a key and for revoking one: a key revokes only what it could have minted."""
        if self.has_full_access:
            return None
        for scope in scopes if scopes is not None else [FULL_ACCESS]:
            action, _, module = scope.partition(":")
            if (
                scope == FULL_ACCESS
                or action not in ("read", "write")
                or not self.may(action, module)
            ):
                return scope
        return None

    def may(self, action: str, module: str) -> bool:
        """``action`` is ``read`` or ``write``; write implies read; ``*`` grants everything."""
        if self.is_customer_scoped:
            return False
        if FULL_ACCESS in self.scopes:
            return True
        modules = {module, "billing"} if module in BILLING_AREAS else {module}
        wanted = {f"{action}:{m}" for m in modules} | {f"{action}:*"}
        if action == "read":
            wanted |= {f"write:{m}" for m in modules} | {"write:*"}
        return bool(wanted & self.scopes)
