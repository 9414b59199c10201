"""Feature flag definitions and their evaluation. Pure: no I/O, time passed in.

A flag has typed variants, an ordered list of targeting rules (CEL expressions over the
evaluation context) and a default. Each rule and the default *serve* variants one of three
ways:

* ``basic``: one variant.
* ``rollout_percentage``: a sticky split by weight. A subject is bucketed on
  ``sha256("<flag key>/<targeting key>")``, so it keeps its variant from one evaluation to the
  next and two flags' rollouts are independent.
* ``rollout_date``: a split that moves linearly over time. At ``start.date`` the start
  variant gets ``start.percentage`` percent and the end variant the rest; at ``end.date``
  the end variant gets ``end.percentage`` percent and the start variant the rest; in between
  the end variant's share is interpolated. Before the start and after the end the share is
  that of the nearer end. Bucketing is the same sticky bucket as a split.

:func:`evaluate` tries the rules in order; the first whose expression is ``true`` decides
(``TARGETING_MATCH``). An expression that fails on the context (a missing key, a type
mismatch) or answers anything but a boolean does not match. No rule matching gives the
default (``DEFAULT``, or ``SPLIT`` for a rollout); a disabled flag gives its default to
everyone and evaluates no rule (``DISABLED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import celpy
from celpy.celparser import CELParseError

from meterline.kernel.errors import InvalidRequest

FlagType = Literal["boolean", "string", "number", "object"]
ServeKind = Literal["basic", "rollout_percentage", "rollout_date"]
FLAG_TYPES: tuple[FlagType, ...] = ("boolean", "string", "number", "object")
MAX_EXPRESSION = 2000
BUCKETS = 10_000

_CEL = celpy.Environment()


@dataclass(frozen=True)
class Variant:
    name: str
    value: Any
    description: str = ""


@dataclass(frozen=True)
class Step:
    """One end of a date rollout: ``variant`` has ``percentage`` percent at ``at``."""

    variant: str
    percentage: int
    at: datetime


@dataclass(frozen=True)
class Serve:
    """How a rule or the default picks a variant (see the module docstring)."""

    kind: ServeKind
    variant: str | None = None
    distribution: tuple[tuple[str, int], ...] = ()
    start: Step | None = None
    end: Step | None = None

    def variants(self) -> list[str]:
        """Every variant name this serve may give."""
        if self.kind == "basic":
            return [self.variant] if self.variant is not None else []
        if self.kind == "rollout_percentage":
            return [name for name, _ in self.distribution]
        return [s.variant for s in (self.start, self.end) if s is not None]


@dataclass(frozen=True)
class Rule:
    name: str
    expression: str
    serve: Serve


@dataclass(frozen=True)
class FlagDefinition:
    key: str
    type: FlagType
    enabled: bool
    variants: tuple[Variant, ...]
    default: Serve
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """What an evaluation gives: the variant, its value, why, and the rule that matched."""

    variant: str
    value: Any
    reason: Literal["TARGETING_MATCH", "SPLIT", "DEFAULT", "DISABLED"]
    rule: str | None = None


def _value_fits(kind: FlagType, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, dict)


def compile_rule(expression: str, field: str) -> Any:
    """The compiled CEL program of ``expression``; 422 naming ``field`` when it is no CEL."""
    if len(expression) > MAX_EXPRESSION:
        raise InvalidRequest(
            f"the rule is longer than {MAX_EXPRESSION} characters", field=field, reason="too_long"
        )
    try:
        return _CEL.program(_CEL.compile(expression))
    except (CELParseError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidRequest(
            "the rule is not a CEL expression", field=field, reason="invalid_rule"
        ) from exc


def _check_serve(serve: Serve, names: set[str], field: str) -> None:
    for name in serve.variants():
        if name not in names:
            raise InvalidRequest(
                f"no variant is named {name!r}", field=field, reason="unknown_variant"
            )
    if serve.kind == "rollout_percentage" and not serve.distribution:
        raise InvalidRequest(
            "a split needs at least one variant", field=f"{field}.distribution", reason="empty"
        )
    start, end = serve.start, serve.end
    if serve.kind == "rollout_date" and start and end and end.at <= start.at:
        raise InvalidRequest(
            "the end of a rollout comes after its start",
            field=f"{field}.end.date",
            reason="invalid_range",
        )


def check(definition: FlagDefinition) -> None:
    """Refuse a definition that cannot be evaluated, naming the field (422): variant values
    of another type than the flag's, duplicate or unknown variant names, an empty split, a
    rollout that ends before it starts, a rule that is not CEL."""
    names: set[str] = set()
    for i, variant in enumerate(definition.variants):
        if variant.name in names:
            raise InvalidRequest(
                f"two variants are named {variant.name!r}",
                field=f"variants[{i}].name",
                reason="duplicate",
            )
        names.add(variant.name)
        if not _value_fits(definition.type, variant.value):
            raise InvalidRequest(
                f"the value is not of the flag's type {definition.type}",
                field=f"variants[{i}].value",
                reason="type_mismatch",
            )
    if not names:
        raise InvalidRequest("a flag needs at least one variant", field="variants", reason="empty")
    _check_serve(definition.default, names, "default_variant")
    for i, rule in enumerate(definition.rules):
        compile_rule(rule.expression, f"targetings[{i}].rule")
        _check_serve(rule.serve, names, f"targetings[{i}]")


def bucket(flag_key: str, targeting_key: str) -> int:
    """The subject's sticky bucket of the flag, ``0 <= bucket < BUCKETS``."""
    digest = hashlib.sha256(f"{flag_key}/{targeting_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def _pick(distribution: Sequence[tuple[str, int]], position: int) -> str:
    """The variant whose slice of ``BUCKETS`` (by weight) holds ``position``."""
    total = sum(weight for _, weight in distribution)
    point = position * total // BUCKETS
    for name, weight in distribution:
        if point < weight:
            return name
        point -= weight
    return distribution[-1][0]


def end_share(start: Step, end: Step, now: datetime) -> float:
    """The end variant's percentage of a date rollout at ``now``."""
    first, last = 100 - start.percentage, end.percentage
    span = (end.at - start.at).total_seconds()
    done = (now - start.at).total_seconds() / span if span > 0 else 1.0
    return first + (last - first) * min(1.0, max(0.0, done))


def _serve(serve: Serve, flag_key: str, targeting_key: str, now: datetime) -> str:
    if serve.kind == "basic":
        assert serve.variant is not None
        return serve.variant
    position = bucket(flag_key, targeting_key)
    if serve.kind == "rollout_percentage":
        return _pick(serve.distribution, position)
    assert serve.start is not None and serve.end is not None
    share = end_share(serve.start, serve.end, now)
    # The end variant takes the low buckets, so a growing share only ever moves subjects
    # from the start variant to the end variant, never back.
    return serve.end.variant if position < share * BUCKETS / 100 else serve.start.variant


def default_variant_name(definition: FlagDefinition) -> str:
    """The variant the manifest states as the default: a basic default's variant, the
    heaviest of a split (first on a tie), the start variant of a date rollout."""
    default = definition.default
    if default.kind == "basic" and default.variant is not None:
        return default.variant
    if default.kind == "rollout_percentage" and default.distribution:
        return max(default.distribution, key=lambda pair: pair[1])[0]
    if default.start is not None:
        return default.start.variant
    return definition.variants[0].name


def matches(program: Any, context: Mapping[str, Any]) -> bool:
    """Whether a compiled rule is ``true`` on ``context`` (a failure does not match)."""
    try:
        result = program.evaluate(celpy.json_to_cel(dict(context)))
    except Exception:  # a missing key, a type mismatch, a bad regex: the rule does not apply
        return False
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def evaluate(
    definition: FlagDefinition, context: Mapping[str, Any], targeting_key: str, now: datetime
) -> Resolution:
    """The flag's resolution for ``context`` at ``now`` (see the module docstring)."""
    values = {v.name: v.value for v in definition.variants}
    if definition.enabled:
        for i, rule in enumerate(definition.rules):
            if matches(compile_rule(rule.expression, f"targetings[{i}].rule"), context):
                name = _serve(rule.serve, definition.key, targeting_key, now)
                return Resolution(name, values[name], "TARGETING_MATCH", rule.name)
    name = _serve(definition.default, definition.key, targeting_key, now)
    if not definition.enabled:
        return Resolution(name, values[name], "DISABLED")
    reason: Literal["SPLIT", "DEFAULT"] = (
        "DEFAULT" if definition.default.kind == "basic" else "SPLIT"
    )
    return Resolution(name, values[name], reason)
