"""Roles: named bundles of scopes, the one mechanism every route already enforces.

A role grants scopes (``read:<module>``, ``write:<module>``, ``*``); a service account's keys
hold at most its roles' scopes, so a role is enforced wherever a scope is: every ``/v1``
route (``api/deps.require_vendor``, by the route's area below) and every ``/api`` route
(Kaiten's modules). On ``/v1``, ``write:billing`` covers every area; ``finance`` and
``developer`` are the areas of those roles (docs/accounts.md).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meterline.accounts.principal import FULL_ACCESS, Principal
from meterline.accounts.scopes import KAITEN_MODULES

KAITEN_READ = tuple(f"read:{module}" for module in KAITEN_MODULES)
KAITEN_WRITE = tuple(f"write:{module}" for module in KAITEN_MODULES)

# The /v1 area of a route, by its first path segment; any other route is plain "billing".
AREAS: dict[str, str] = {
    **dict.fromkeys(
        (
            "invoices",
            "payments",
            "creditnotes",
            "credit-notes",
            "wallets",
            "creditgrants",
            "customers",
            "subscriptions",
            "coupons",
            "taxes",
        ),
        "finance",
    ),
    **dict.fromkeys(
        (
            "features",
            "meters",
            "plans",
            "prices",
            "entitlements",
            "addons",
            "groups",
            "events",
            "secrets",
            "webhooks",
        ),
        "developer",
    ),
}


def area_of(path: str) -> str | None:
    """The role area of a ``/v1`` path (``/v1/invoices/…`` → ``finance``), if it has one."""
    parts = path.split("/", 3)
    if len(parts) < 3 or parts[1] != "v1":
        return None
    return AREAS.get(parts[2])


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    description: str
    scopes: tuple[str, ...]
    user_types: tuple[str, ...] = ("user", "service_account")


ROLES: dict[str, Role] = {
    role.id: role
    for role in (
        Role(
            "owner",
            "Owner",
            "Everything, in every environment of the organization: environments, people "
            "and roles included.",
            (FULL_ACCESS,),
            ("user",),
        ),
        Role(
            "admin",
            "Admin",
            "Every billing and licensing action of the environment, people and roles up to "
            "admin; not other environments.",
            ("read:*", "write:billing", *KAITEN_WRITE),
        ),
        Role(
            "finance",
            "Finance",
            "Reads everything; changes invoices, payments, credit notes, wallets, credit "
            "grants, coupons, taxes, customers and subscriptions.",
            ("read:*", "write:finance"),
        ),
        Role(
            "developer",
            "Developer",
            "Reads everything; changes the catalog (features, meters, plans, prices, "
            "entitlements, add-ons), events, API keys, webhooks and licensing.",
            ("read:*", "write:developer", *KAITEN_WRITE),
        ),
        Role("read_only", "Read-only", "Reads everything; changes nothing.", ("read:*",)),
    )
}


def scopes_of(roles: Iterable[str]) -> list[str]:
    """The union of the roles' scopes, in a stable order."""
    out: dict[str, None] = {}
    for role in roles:
        out.update(dict.fromkeys(ROLES[role].scopes))
    return list(out)


def holder(principal: Principal, roles: Iterable[str]) -> Principal:
    """A principal like ``principal`` holding exactly the scopes of ``roles``."""
    return Principal(
        organization_id=principal.organization_id,
        environment_id=principal.environment_id,
        key_id=principal.key_id,
        user_id=principal.user_id,
        scopes=frozenset(scopes_of(roles)),
    )
