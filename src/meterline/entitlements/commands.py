"""Typed commands of the entitlement service, built by the API layer from its wire models.

Types are settled at the wire; the service checks values (choices, references, the rules
of each feature type). On create ``None`` means "not given". On update ``None`` changes nothing,
except for ``usage_limit``: not sent is ``UNSET`` (unchanged), an explicit ``null`` is
``None`` (unlimited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterline.kernel.unset import UNSET, Unset


@dataclass(frozen=True)
class CreateEntitlement:
    feature_id: str | None = None
    feature_type: str | None = None
    plan_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    display_order: int | None = None
    is_enabled: bool | None = None
    usage_limit: int | None = None
    usage_reset_period: str | None = None
    is_soft_limit: bool | None = None
    static_value: str | None = None
    config_value: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdateEntitlement:
    is_enabled: bool | None = None
    usage_limit: int | Unset | None = UNSET
    usage_reset_period: str | None = None
    is_soft_limit: bool | None = None
    static_value: str | None = None
    config_value: dict[str, Any] | None = None
