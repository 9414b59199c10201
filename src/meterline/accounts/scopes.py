"""The scopes of Kaiten credentials, as Meterline scopes (``read:<module>``, ``write:<module>``).

Organization tokens (``ksh_...``) carry only the Kaiten scopes; platform credentials
(``ksm_...``) may hold those and the three ``delete:`` privileges of the Platform API, which
no ``write`` implies.
"""

from __future__ import annotations

from collections.abc import Iterable

KAITEN_MODULES = (
    "components",
    "customers",
    "deployment_zones",
    "entitlements",
    "feature_flags",
    "instances",
    "licenses",
    "metadata_fields",
    "notifications",
    "organizations",
    "releases",
    "tokens",
    "webhooks",
)
KAITEN_SCOPES = tuple(
    f"{action}:{module}" for action in ("read", "write") for module in KAITEN_MODULES
)
PLATFORM_DELETE_SCOPES = ("delete:organizations", "delete:memberships", "delete:users")
PLATFORM_SCOPES = KAITEN_SCOPES + PLATFORM_DELETE_SCOPES


def holds(scopes: Iterable[str], wanted: str) -> bool:
    """``scopes`` grant ``wanted``: itself, or ``write:X`` for ``read:X``."""
    held = set(scopes)
    if wanted in held:
        return True
    action, _, module = wanted.partition(":")
    return action == "read" and f"write:{module}" in held
