"""Alert thresholds and the state they put a value in. Pure: no I/O.

A setting has up to three levels, ``critical``, ``warning`` and ``info``, each a
``condition`` (``below``: the value is under the threshold; ``above``: over it, both
strict) and a ``threshold``: absolute (a wallet's credit balance in credits, a spend in
the subscription's currency, a usage in the feature's units) or, for an entitlement only, a
percentage of its usage limit. The state is that of the most severe level whose condition
holds: ``in_alarm`` (critical), ``warning``, ``info``; else ``ok``. A disabled setting is
always ``ok``.

A change of state is a *crossing* when it is more severe than before (the
``threshold_reached`` / ``dropped`` webhooks), a *recovery* when it is back to ``ok``, and a
*softening* otherwise (logged, no webhook): :func:`change`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meterline.kernel.errors import InvalidRequest

LEVELS = ("critical", "warning", "info")  # most severe first
STATE_OF = {"critical": "in_alarm", "warning": "warning", "info": "info"}
CONDITIONS = ("below", "above")
THRESHOLD_TYPES = ("absolute", "percentage")


@dataclass(frozen=True)
class Level:
    condition: str
    threshold: Decimal

    def holds(self, value: Decimal) -> bool:
        return value < self.threshold if self.condition == "below" else value > self.threshold


@dataclass(frozen=True)
class Config:
    enabled: bool
    threshold_type: str
    levels: dict[str, Level]

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "alert_enabled": self.enabled,
            "alert_threshold_type": self.threshold_type,
        }
        for name, level in self.levels.items():
            out[name] = {"condition": level.condition, "threshold": str(level.threshold)}
        return out


def checked(config: Config, entity_type: str) -> Config:
    """``config`` if it can be evaluated for ``entity_type``, else a 400 naming the field."""
    if config.threshold_type not in THRESHOLD_TYPES:
        raise InvalidRequest(
            "config.alert_threshold_type must be absolute or percentage",
            field="config.alert_threshold_type",
        )
    if entity_type != "entitlement_grant" and config.threshold_type != "absolute":
        # a balance or a spend has no 100 %: its thresholds are amounts
        raise InvalidRequest(
            f"the thresholds of a {entity_type} alert are absolute",
            field="config.alert_threshold_type",
        )
    if not config.levels:
        raise InvalidRequest(
            "an alert needs at least one of critical, warning or info", field="config"
        )
    for name, level in config.levels.items():
        if level.condition not in CONDITIONS:
            raise InvalidRequest(
                f"config.{name}.condition must be below or above",
                field=f"config.{name}.condition",
            )
        if not level.threshold.is_finite():
            raise InvalidRequest(
                f"config.{name}.threshold must be a number", field=f"config.{name}.threshold"
            )
    return config


def loaded(raw: dict[str, Any]) -> Config:
    return Config(
        enabled=bool(raw.get("alert_enabled", True)),
        threshold_type=str(raw.get("alert_threshold_type", "absolute")),
        levels={
            name: Level(raw[name]["condition"], Decimal(raw[name]["threshold"]))
            for name in LEVELS
            if raw.get(name)
        },
    )


def state(config: Config, value: Decimal) -> str:
    if not config.enabled:
        return "ok"
    for name in LEVELS:
        level = config.levels.get(name)
        if level is not None and level.holds(value):
            return STATE_OF[name]
    return "ok"


SEVERITY = {"ok": 0, "info": 1, "warning": 2, "in_alarm": 3}
CROSSED, RECOVERED, SOFTENED = "crossed", "recovered", "softened"


def change(old: str, new: str) -> str | None:
    """What moving from state ``old`` to ``new`` is: ``crossed``, ``recovered``,
    ``softened``, or None when it is no change."""
    if old == new:
        return None
    if new == "ok":
        return RECOVERED
    return CROSSED if SEVERITY[new] > SEVERITY[old] else SOFTENED


def crossed_threshold(config: Config, state_name: str) -> Decimal | None:
    """The threshold of the level behind ``state_name`` (for ``ok``: the least severe
    level's, the one recovered from last)."""
    for name in LEVELS if state_name != "ok" else reversed(LEVELS):
        if state_name in (STATE_OF[name], "ok") and name in config.levels:
            return config.levels[name].threshold
    return None
