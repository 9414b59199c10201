"""Pure aggregation maths: which events a meter counts, what each contributes, and folding.

No I/O. Quantities are ``Decimal``; instants are integer microseconds since the epoch (UTC).

Every aggregation is one class registered in ``AGGREGATIONS`` and carries its parts: what
an event contributes to a ``Fold``, its result, and which *parts* of a fold it reads. A part
(``PARTS``: total, min, max, latest, earliest) is what the stores keep or compute: its
rollup columns and their merge on SQLite and PostgreSQL, its ClickHouse aggregate, and how
the values read back fill a fold. Stores, usage queries, catalog validation and the wire
schemas ask the registry; none switches on an aggregation's name.

Order: events are folded in ingest order. LATEST keeps the value with the greatest
timestamp, ties going to the later-ingested event; EARLIEST the value with the smallest
timestamp, ties going to the earlier-ingested event (on ClickHouse: the smallest
``(timestamp, ingested_at, batch_index)``, the same order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

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
from meterline.metering.folds import ZERO, Fold

_INT_LIMIT = int(LIMIT)
_TINY_DIGITS = MAX_DIGITS
# Sums of quantities in the one money context (the default one keeps 28 digits).
_add = MONEY_CONTEXT.add
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US

# Window sizes whose boundaries fall on hour boundaries (in a whole-hour-offset time zone).
HOUR_ALIGNED_WINDOWS = frozenset({"HOUR", "3HOUR", "6HOUR", "12HOUR", "DAY", "WEEK", "MONTH"})


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


# ---- the aggregations -----------------------------------------------------------------------


class Observed(Protocol):
    """What folding reads of a raw event."""

    @property
    def properties(self) -> Mapping[str, Any]: ...

    @property
    def timestamp(self) -> int: ...  # µs


@dataclass(frozen=True)
class Period:
    """The queried range ``[start, end)`` (µs), for aggregations weighted by time."""

    start: int
    end: int


class Aggregation:
    """One aggregation type: how events contribute, what it reads of a fold, its result.

    ``parts``: the fold parts it reads (the count always). ``foldable``: whether its result
    follows from merged partial folds (then rollups and ClickHouse aggregates serve it);
    otherwise each event is contributed from raw events.
    """

    name: ClassVar[str]
    parts: ClassVar[frozenset[str]] = frozenset()
    foldable: ClassVar[bool] = True
    needs_field: ClassVar[bool] = True  # aggregation.field / property_name is required
    needs_multiplier: ClassVar[bool] = False
    reads_value: ClassVar[bool] = True
    additive: ClassVar[bool] = False  # the usage of a range is the sum of its parts' usage
    bucketable: ClassVar[bool] = False  # a meter may set bucket_size
    groupable: ClassVar[bool] = False  # a bucketed meter may set group_by

    def value(self, meter: MeterSpec, properties: Mapping[str, Any]) -> Decimal:
        """What one event contributes (its field's number; 0 for valueless aggregations)."""
        if not self.reads_value or not meter.field:
            return ZERO
        return numeric(properties.get(meter.field))

    def contribute(self, fold: Fold, meter: MeterSpec, event: Observed, period: Period) -> None:
        """Add one raw event (in ingest order) to ``fold``."""
        fold.add(self.value(meter, event.properties), event.timestamp)

    def result(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return self._of(meter, fold) if fold.count else ZERO

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        raise NotImplementedError

    def consumption(self, meter: MeterSpec, quantity: Decimal) -> Decimal | None:
        """The value of one event adding ``quantity`` to the usage, or None if none does
        (entitlement check-and-consume)."""
        return None


AGGREGATIONS: dict[str, Aggregation] = {}


def register(cls: type[Aggregation]) -> type[Aggregation]:
    """Make ``cls`` an aggregation type of the wire, the catalog and every store."""
    AGGREGATIONS[cls.name] = cls()
    return cls


def aggregation_of(name: str) -> Aggregation:
    """The registered aggregation called ``name`` (``ValueError`` for an unknown one)."""
    found = AGGREGATIONS.get(name)
    if found is None:
        raise ValueError(f"unknown aggregation {name}")
    return found


@register
class Count(Aggregation):
    name = "COUNT"
    needs_field = False
    reads_value = False
    additive = True

    def result(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return Decimal(fold.count)


@register
class Sum(Aggregation):
    name = "SUM"
    parts = frozenset({"total"})
    additive = True
    bucketable = True

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.total

    def consumption(self, meter: MeterSpec, quantity: Decimal) -> Decimal | None:
        return quantity


@register
class Avg(Aggregation):
    name = "AVG"
    parts = frozenset({"total"})

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return MONEY_CONTEXT.divide(fold.total, Decimal(fold.count))


@register
class Max(Aggregation):
    name = "MAX"
    parts = frozenset({"max"})
    bucketable = True
    groupable = True

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.maximum if fold.maximum is not None else ZERO


@register
class Min(Aggregation):
    name = "MIN"
    parts = frozenset({"min"})

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.minimum if fold.minimum is not None else ZERO


@register
class CountUnique(Aggregation):
    """Distinct values of the field (as filters compare them); from raw events only."""

    name = "COUNT_UNIQUE"
    foldable = False
    reads_value = False

    def contribute(self, fold: Fold, meter: MeterSpec, event: Observed, period: Period) -> None:
        fold.add(ZERO, event.timestamp)
        if meter.field:
            text = property_text(event.properties.get(meter.field))
            if text is not None:
                fold.uniques.add(text)

    def result(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return Decimal(len(fold.uniques))


@register
class Latest(Aggregation):
    name = "LATEST"
    parts = frozenset({"latest"})

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.latest_value if fold.latest_value is not None else ZERO


@register
class SumWithMultiplier(Aggregation):
    name = "SUM_WITH_MULTIPLIER"
    parts = frozenset({"total"})
    needs_multiplier = True
    additive = True

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        multiplier = meter.multiplier if meter.multiplier is not None else Decimal(1)
        return MONEY_CONTEXT.multiply(fold.total, multiplier)

    def consumption(self, meter: MeterSpec, quantity: Decimal) -> Decimal | None:
        return quantity / (meter.multiplier or Decimal(1))


@register
class WeightedSum(Aggregation):
    """Each value times the share of the queried period left after its event; raw only."""

    name = "WEIGHTED_SUM"
    foldable = False

    def contribute(self, fold: Fold, meter: MeterSpec, event: Observed, period: Period) -> None:
        value = self.value(meter, event.properties)
        fold.add(value, event.timestamp)
        fold.weighted = _add(
            fold.weighted, weighted_contribution(value, event.timestamp, period.start, period.end)
        )

    def result(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.weighted


@register
class Earliest(Aggregation):
    """The value of the first event in the window by timestamp (a Meterline extension of
    the Flexprice wire); ties go to the earlier-ingested event."""

    name = "EARLIEST"
    parts = frozenset({"earliest"})

    def _of(self, meter: MeterSpec, fold: Fold) -> Decimal:
        return fold.earliest_value if fold.earliest_value is not None else ZERO


# The names in registration order: the catalog's and the wire's allowed values.
AGGREGATION_TYPES = tuple(AGGREGATIONS)


def parts_needed(meter: MeterSpec) -> frozenset[str]:
    """The fold parts the meter's aggregation reads (the count is always read)."""
    return aggregation_of(meter.aggregation_type).parts


def event_value(meter: MeterSpec, properties: Mapping[str, Any]) -> Decimal:
    """What one event contributes to the meter's folds."""
    return aggregation_of(meter.aggregation_type).value(meter, properties)


def result(meter: MeterSpec, fold: Fold) -> Decimal:
    """The aggregate of a fold for the meter's aggregation type."""
    return aggregation_of(meter.aggregation_type).result(meter, fold)


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
