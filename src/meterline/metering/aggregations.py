"""Pure aggregation maths: which events a meter counts, what each contributes, and folding.

No I/O. Quantities are ``Decimal``; instants are integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from meterline.kernel.money import (
    FRACTION_DIGITS,
    LIMIT,
    MAX_DIGITS,
    MONEY_CONTEXT,
    SMALLEST,
    bounded_or_zero,
    decimal_text,
    within_magnitude,
)

ZERO = Decimal(0)
_INT_LIMIT = int(LIMIT)
_TINY_DIGITS = MAX_DIGITS
# Sums of quantities in the one money context (the default one keeps 28 digits).
_add = MONEY_CONTEXT.add
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US

# Aggregations whose result can be folded from hourly partial aggregates.
FOLDABLE = frozenset({"COUNT", "SUM", "AVG", "MAX", "MIN", "LATEST", "SUM_WITH_MULTIPLIER"})
# Window sizes whose boundaries fall on hour boundaries (in a whole-hour-offset time zone).
HOUR_ALIGNED_WINDOWS = frozenset({"HOUR", "3HOUR", "6HOUR", "12HOUR", "DAY", "WEEK", "MONTH"})
# The parts of a fold each foldable aggregation reads (the count is always read).
ALL_PARTS = frozenset({"total", "min", "max", "latest"})
PARTS_NEEDED = {
    "COUNT": frozenset(),
    "SUM": frozenset({"total"}),
    "SUM_WITH_MULTIPLIER": frozenset({"total"}),
    "AVG": frozenset({"total"}),
    "MAX": frozenset({"max"}),
    "MIN": frozenset({"min"}),
    "LATEST": frozenset({"latest"}),
}


@dataclass(frozen=True)
class MeterSpec:
    """What the maths needs of a meter."""

    id: str
    environment_id: str
    event_name: str
    aggregation_type: str
    field: str | None = None
    multiplier: Decimal | None = None
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    bucket_size: str | None = None
    group_by: str | None = None


def filters_of(
    raw: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[str]] | None,
) -> tuple[tuple[str, frozenset[str]], ...]:
    """``[{"key": k, "values": [...]}]`` or ``{k: [...]}`` → a hashable filter spec."""
    if not raw:
        return ()
    if isinstance(raw, Mapping):
        pairs = [(str(k), frozenset(str(v) for v in vs)) for k, vs in raw.items()]
    else:
        pairs = [(str(f["key"]), frozenset(str(v) for v in f.get("values", []))) for f in raw]
    return tuple(sorted(pairs, key=lambda p: p[0]))


def property_text(value: Any) -> str | None:
    """A property as filters compare it: strings as they are, numbers canonically."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        # A number past kernel.money's magnitude (1e999999) or below 10^-38 (1e-999999)
        # is no number a meter knows: it matches no filter and groups as no value, on
        # every store, and is never expanded into a million digits.
        if within_magnitude(value) and (not value or value.adjusted() >= -_TINY_DIGITS):
            return decimal_text(value)
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


def matches(properties: Mapping[str, Any], filters: Iterable[tuple[str, frozenset[str]]]) -> bool:
    """Every filter key present and its value among the listed values."""
    for key, allowed in filters:
        text = property_text(properties.get(key))
        if text is None or text not in allowed:
            return False
    return True


def numeric(value: Any) -> Decimal:
    """A property's numeric value; missing, non-numeric or out of bounds counts as 0.

    The bounds are ``kernel.money``'s: below ``10^26`` in magnitude, rounded to 12 digits
    after the point (what the store keeps), so ``1e999999`` counts 0 and is never expanded.
    """
    kind = type(value)  # exact types first: this runs once per event and meter
    if kind is str:
        try:
            parsed = Decimal(value)  # Decimal ignores surrounding whitespace itself
        except (InvalidOperation, ValueError):
            return ZERO
        return bounded_or_zero(parsed)
    if kind is int:
        return Decimal(value) if -_INT_LIMIT < value < _INT_LIMIT else ZERO
    if kind is Decimal:
        return bounded_or_zero(value)
    if value is None or isinstance(value, bool):
        return ZERO
    if isinstance(value, int):
        return numeric(int(value))
    if isinstance(value, float):
        return bounded_or_zero(Decimal(repr(value)))
    return ZERO


_VALUELESS = frozenset({"COUNT", "COUNT_UNIQUE"})


def event_value(meter: MeterSpec, properties: Mapping[str, Any]) -> Decimal:
    if meter.aggregation_type in _VALUELESS or not meter.field:
        return ZERO
    return numeric(properties.get(meter.field))


@dataclass(slots=True)
class Fold:
    """A partial aggregate that merges associatively."""

    count: int = 0
    total: Decimal = ZERO
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    latest_ts: int | None = None
    latest_value: Decimal | None = None
    uniques: set[str] = field(default_factory=set)

    def add(self, value: Decimal, timestamp: int) -> None:
        self.count += 1
        self.total = _add(self.total, value)
        self.minimum = value if self.minimum is None or value < self.minimum else self.minimum
        self.maximum = value if self.maximum is None or value > self.maximum else self.maximum
        # Ties go to the later-ingested event: callers add in ingest order.
        if self.latest_ts is None or timestamp >= self.latest_ts:
            self.latest_ts = timestamp
            self.latest_value = value

    def add_parts(self, value: Decimal, timestamp: int, parts: frozenset[str]) -> None:
        """``add``, keeping only the named parts (``total``, ``min``, ``max``, ``latest``)."""
        self.count += 1
        if "total" in parts:
            self.total = _add(self.total, value)
        if "min" in parts and (self.minimum is None or value < self.minimum):
            self.minimum = value
        if "max" in parts and (self.maximum is None or value > self.maximum):
            self.maximum = value
        if "latest" in parts and (self.latest_ts is None or timestamp >= self.latest_ts):
            self.latest_ts = timestamp
            self.latest_value = value

    def merge(self, other: Fold) -> None:
        self.count += other.count
        self.total = _add(self.total, other.total)
        if other.minimum is not None and (self.minimum is None or other.minimum < self.minimum):
            self.minimum = other.minimum
        if other.maximum is not None and (self.maximum is None or other.maximum > self.maximum):
            self.maximum = other.maximum
        if other.latest_ts is not None and (
            self.latest_ts is None or other.latest_ts >= self.latest_ts
        ):
            self.latest_ts = other.latest_ts
            self.latest_value = other.latest_value
        if other.uniques:
            self.uniques |= other.uniques


def result(meter: MeterSpec, fold: Fold) -> Decimal:
    """The aggregate of a fold for the meter's aggregation type (WEIGHTED_SUM excluded)."""
    kind = meter.aggregation_type
    if kind == "COUNT":
        return Decimal(fold.count)
    if kind == "COUNT_UNIQUE":
        return Decimal(len(fold.uniques))
    if fold.count == 0:
        return ZERO
    if kind == "SUM":
        return fold.total
    if kind == "SUM_WITH_MULTIPLIER":
        multiplier = meter.multiplier if meter.multiplier is not None else Decimal(1)
        return MONEY_CONTEXT.multiply(fold.total, multiplier)
    if kind == "AVG":
        return MONEY_CONTEXT.divide(fold.total, Decimal(fold.count))
    if kind == "MAX":
        return fold.maximum if fold.maximum is not None else ZERO
    if kind == "MIN":
        return fold.minimum if fold.minimum is not None else ZERO
    if kind == "LATEST":
        return fold.latest_value if fold.latest_value is not None else ZERO
    raise ValueError(f"no fold result for {kind}")


def weighted_contribution(
    value: Decimal, timestamp: int, period_start: int, period_end: int
) -> Decimal:
    """WEIGHTED_SUM: the value times the share of the period left after the event (seconds)."""
    span = (period_end - period_start) // 1_000_000
    if span <= 0:
        return ZERO
    remaining = max(0, (period_end - timestamp) // 1_000_000)
    return MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(value, Decimal(remaining)), Decimal(span))


def tidy(value: Decimal) -> Decimal:
    """A usage figure as it is shown and billed: rounded to the store's 12 digits after the
    point (half away from zero; an AVG or WEIGHTED_SUM divides), trailing zeros dropped,
    no exponent: 1.500 → 1.5, 1E+2 → 100."""
    if value == 0:
        return ZERO
    if value.as_tuple().exponent < -FRACTION_DIGITS:  # type: ignore[operator]
        value = value.quantize(SMALLEST, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)
    return Decimal(decimal_text(value))
