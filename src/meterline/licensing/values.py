"""Typed entitlement values and the entitlement type ↔ catalog feature type mapping. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from meterline.kernel.errors import InvalidRequest

ENTITLEMENT_TYPES = ("BOOLEAN", "NUMBER", "CONFIG", "NUMBER_AI_CREDIT")
NUMBER_TYPES = ("NUMBER", "NUMBER_AI_CREDIT")
UNLIMITED = Decimal(-1)

ValueKind = Literal["number", "boolean", "object"]


@dataclass(frozen=True)
class TypedValue:
    """``{"type": kind, "value": value}`` on the wire."""

    kind: ValueKind
    value: Any
    event_count: int | None = None


def feature_type_of(entitlement_type: str) -> str:
    """The catalog feature type an entitlement type is stored as."""
    if entitlement_type in NUMBER_TYPES:
        return "metered"
    return "boolean" if entitlement_type == "BOOLEAN" else "config"


def entitlement_type_of(feature_type: str, stored: str | None = None) -> str:
    """The entitlement type of a catalog feature (``stored`` keeps NUMBER_AI_CREDIT apart)."""
    if feature_type == "metered":
        return stored if stored in NUMBER_TYPES else "NUMBER"
    if feature_type == "boolean":
        return "BOOLEAN"
    return "CONFIG"  # config, and the billing API's static features


@dataclass(frozen=True)
class GrantTerms:
    """What a license grant stores on the shared Entitlement row."""

    is_enabled: bool
    usage_limit: Decimal | None  # None = unlimited
    overage_percent: Decimal | None  # None = unlimited overage (with an unlimited value)
    config_value: Any

    def columns(self) -> dict[str, Any]:
        """The Entitlement columns the terms set; an overage makes the limit soft."""
        return {
            "is_enabled": self.is_enabled,
            "usage_limit": self.usage_limit,
            "is_soft_limit": bool(self.overage_percent),
            "overage_percent": self.overage_percent,
            "config_value": self.config_value,
        }


def grant_terms(
    entitlement_type: str, value: TypedValue, overage_percent: int | None
) -> GrantTerms:
    """Validate a grant's typed value against the entitlement's type."""
    if entitlement_type in NUMBER_TYPES:
        if value.kind != "number":
            raise InvalidRequest(
                f"a {entitlement_type} entitlement takes a number value",
                field="value.kind",
                reason="value_kind",
            )
        amount = Decimal(value.value)
        if amount == UNLIMITED:
            if overage_percent not in (None, -1):
                raise InvalidRequest(
                    "an unlimited value (-1) takes an unlimited overage (-1)",
                    field="overage_percent",
                    reason="unlimited_overage",
                )
            return GrantTerms(True, None, None, None)
        if amount < 0:
            raise InvalidRequest(
                "a number value is -1 (unlimited) or not negative", field="value.value"
            )
        if overage_percent is None:
            overage_percent = 0
        if overage_percent < 0:
            raise InvalidRequest(
                "the overage percent is -1 only for an unlimited value",
                field="overage_percent",
                reason="negative_overage",
            )
        return GrantTerms(True, amount, Decimal(overage_percent), None)
    if overage_percent is not None:
        raise InvalidRequest(
            f"an overage percent applies to NUMBER entitlements, not {entitlement_type}",
            field="overage_percent",
            reason="overage_needs_number",
            details={"entitlement_type": entitlement_type},
        )
    if entitlement_type == "BOOLEAN":
        if value.kind != "boolean":
            raise InvalidRequest(
                "a BOOLEAN entitlement takes a boolean value",
                field="value.kind",
                reason="value_kind",
            )
        return GrantTerms(bool(value.value), None, None, None)
    if value.kind != "object":
        raise InvalidRequest(
            "a CONFIG entitlement takes an object value", field="value.kind", reason="value_kind"
        )
    return GrantTerms(True, None, None, value.value)


def grant_value(
    entitlement_type: str,
    *,
    is_enabled: bool | None,
    usage_limit: Decimal | None,
    config_value: Any,
    static_value: str | None = None,
) -> TypedValue:
    """The typed value a grant row stands for."""
    if entitlement_type in NUMBER_TYPES:
        return TypedValue("number", UNLIMITED if usage_limit is None else usage_limit)
    if entitlement_type == "BOOLEAN":
        return TypedValue("boolean", bool(is_enabled))
    if config_value is None and static_value is not None:
        return TypedValue("object", {"value": static_value})
    return TypedValue("object", config_value if isinstance(config_value, dict) else {})


def overage_percent_of(
    entitlement_type: str, usage_limit: Decimal | None, stored: Decimal | None
) -> int | None:
    if entitlement_type not in NUMBER_TYPES:
        return None
    if usage_limit is None or stored is None:
        return -1
    return int(stored)
