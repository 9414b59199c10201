"""Who is calling: the identity an API key resolves to."""

from __future__ import annotations

from dataclasses import dataclass, field

FULL_ACCESS = "*"


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

    def may(self, action: str, module: str) -> bool:
        """``action`` is ``read`` or ``write``; write implies read; ``*`` grants everything."""
        if self.is_customer_scoped:
            return False
        if FULL_ACCESS in self.scopes:
            return True
        wanted = {f"{action}:{module}", f"{action}:*"}
        if action == "read":
            wanted |= {f"write:{module}", "write:*"}
        return bool(wanted & self.scopes)
