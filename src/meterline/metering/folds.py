"""Folds: partial aggregates that merge associatively, and the parts the stores keep of them.

Pure: no I/O. A ``Fold`` holds every part an aggregation may read; a ``Part`` (``PARTS``)
is one of them as the stores keep it: its rollup columns and their merge on SQLite and
PostgreSQL, its ClickHouse aggregates, and how column values fill a fold. Which parts an
aggregation reads is the aggregation's (``metering/aggregations.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterline.kernel.money import LARGEST, MONEY_CONTEXT, saturate

ZERO = Decimal(0)
# Sums of quantities in the one money context (the default one keeps 28 digits).
_add = MONEY_CONTEXT.add


@dataclass(slots=True)
class Fold:
    """A partial aggregate that merges associatively (``merge`` in ingest order)."""

    count: int = 0
    total: Decimal = ZERO
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    latest_ts: int | None = None
    latest_value: Decimal | None = None
    earliest_ts: int | None = None
    earliest_value: Decimal | None = None
    uniques: set[str] = field(default_factory=set)
    weighted: Decimal = ZERO  # WEIGHTED_SUM's sum of contributions (raw events only)

    def add(self, value: Decimal, timestamp: int) -> None:
        self.count += 1
        self.total = _add(self.total, value)
        self.minimum = value if self.minimum is None or value < self.minimum else self.minimum
        self.maximum = value if self.maximum is None or value > self.maximum else self.maximum
        # Ties go to the later-ingested event for LATEST, the earlier for EARLIEST:
        # callers add in ingest order.
        if self.latest_ts is None or timestamp >= self.latest_ts:
            self.latest_ts = timestamp
            self.latest_value = value
        if self.earliest_ts is None or timestamp < self.earliest_ts:
            self.earliest_ts = timestamp
            self.earliest_value = value

    def add_parts(self, value: Decimal, timestamp: int, parts: frozenset[str]) -> None:
        """``add``, keeping only the named parts (see ``PARTS``; the count always)."""
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
        if "earliest" in parts and (self.earliest_ts is None or timestamp < self.earliest_ts):
            self.earliest_ts = timestamp
            self.earliest_value = value

    def merge(self, other: Fold) -> None:
        """Fold ``other`` (events ingested after this fold's) into this one."""
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
        if other.earliest_ts is not None and (
            self.earliest_ts is None or other.earliest_ts < self.earliest_ts
        ):
            self.earliest_ts = other.earliest_ts
            self.earliest_value = other.earliest_value
        if other.uniques:
            self.uniques |= other.uniques
        if other.weighted:
            self.weighted = _add(self.weighted, other.weighted)


# ---- parts: what the stores keep of a fold ----------------------------------------------

Number = Callable[[Any], Decimal]


@dataclass(frozen=True)
class Part:
    """One part of a fold as the stores keep it.

    ``columns``/``pg_types``: its columns in ``usage_hourly``/``usage_daily``;
    ``sqlite_merge``/``postgres_merge``: the ``ON CONFLICT DO UPDATE`` assignments that merge
    a delta (``excluded``) into a stored row (``u`` on PostgreSQL; on SQLite through the
    decimal functions of ``db/engine.py``); ``clickhouse``: its aggregates over the events'
    value ``v`` (ordered by ``(timestamp, ingested_at, batch_index)``); ``pg_pick``: how
    PostgreSQL folds many rows of it (an aggregate per column, or ``None`` to pick the one
    row ordered by its first column, see ``pick``). ``dump``/``load`` move it between a fold
    and column values.
    """

    name: str
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]
    sqlite_merge: tuple[str, ...]
    postgres_merge: tuple[str, ...]
    clickhouse: tuple[str, ...]
    pg_aggregates: tuple[str, ...] | None
    pick: str | None  # "DESC" (greatest first column) or "ASC" (smallest) for picked parts
    dump: Callable[[Fold], tuple[Any, ...]]
    load: Callable[[Fold, Sequence[Any], Number], None]


def _load_total(fold: Fold, values: Sequence[Any], number: Number) -> None:
    fold.total = number(values[0])


def _load_min(fold: Fold, values: Sequence[Any], number: Number) -> None:
    if values[0] is not None:
        fold.minimum = number(values[0])


def _load_max(fold: Fold, values: Sequence[Any], number: Number) -> None:
    if values[0] is not None:
        fold.maximum = number(values[0])


def _load_latest(fold: Fold, values: Sequence[Any], number: Number) -> None:
    if values[0] is not None and values[1] is not None:
        fold.latest_ts, fold.latest_value = int(values[0]), number(values[1])


def _load_earliest(fold: Fold, values: Sequence[Any], number: Number) -> None:
    if values[0] is not None and values[1] is not None:
        fold.earliest_ts, fold.earliest_value = int(values[0]), number(values[1])


_ORDER = "(timestamp, ingested_at, batch_index)"
PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part(
            name="total",
            columns=("sum_value",),
            pg_types=("numeric",),
            sqlite_merge=("sum_value = ml_decimal_add(sum_value, excluded.sum_value)",),
            # A total that would pass NUMERIC(38, 12) stays at its largest value (kernel.money
            # bounds each event's value; only a sum of many can pass), never an overflow.
            postgres_merge=(
                "sum_value = LEAST(GREATEST(u.sum_value + excluded.sum_value,"
                f" -{LARGEST}), {LARGEST})",
            ),
            clickhouse=("sum(v)",),
            pg_aggregates=("COALESCE(SUM(sum_value), 0)",),
            pick=None,
            dump=lambda fold: (saturate(fold.total),),
            load=_load_total,
        ),
        Part(
            name="min",
            columns=("min_value",),
            pg_types=("numeric",),
            sqlite_merge=("min_value = ml_decimal_min(min_value, excluded.min_value)",),
            postgres_merge=("min_value = LEAST(u.min_value, excluded.min_value)",),
            clickhouse=("min(v)",),
            pg_aggregates=("MIN(min_value)",),
            pick=None,
            dump=lambda fold: (fold.minimum,),
            load=_load_min,
        ),
        Part(
            name="max",
            columns=("max_value",),
            pg_types=("numeric",),
            sqlite_merge=("max_value = ml_decimal_max(max_value, excluded.max_value)",),
            postgres_merge=("max_value = GREATEST(u.max_value, excluded.max_value)",),
            clickhouse=("max(v)",),
            pg_aggregates=("MAX(max_value)",),
            pick=None,
            dump=lambda fold: (fold.maximum,),
            load=_load_max,
        ),
        Part(
            name="latest",
            columns=("latest_ts", "latest_value"),
            pg_types=("bigint", "numeric"),
            sqlite_merge=(
                "latest_value = CASE WHEN latest_ts IS NULL OR excluded.latest_ts >= latest_ts"
                " THEN excluded.latest_value ELSE latest_value END",
                "latest_ts = CASE WHEN latest_ts IS NULL OR excluded.latest_ts >= latest_ts"
                " THEN excluded.latest_ts ELSE latest_ts END",
            ),
            postgres_merge=(
                "latest_value = CASE WHEN u.latest_ts IS NULL OR excluded.latest_ts >= u.latest_ts"
                " THEN excluded.latest_value ELSE u.latest_value END",
                "latest_ts = GREATEST(u.latest_ts, excluded.latest_ts)",
            ),
            clickhouse=("max(timestamp)", f"argMax(v, {_ORDER})"),
            pg_aggregates=None,
            pick="DESC",
            dump=lambda fold: (fold.latest_ts, fold.latest_value),
            load=_load_latest,
        ),
        Part(
            name="earliest",
            columns=("earliest_ts", "earliest_value"),
            pg_types=("bigint", "numeric"),
            # A stored row holds earlier-ingested events: a delta wins only when strictly
            # earlier, so ties keep the earlier-ingested event.
            sqlite_merge=(
                "earliest_value = CASE WHEN earliest_ts IS NULL OR excluded.earliest_ts"
                " < earliest_ts THEN excluded.earliest_value ELSE earliest_value END",
                "earliest_ts = CASE WHEN earliest_ts IS NULL OR excluded.earliest_ts"
                " < earliest_ts THEN excluded.earliest_ts ELSE earliest_ts END",
            ),
            postgres_merge=(
                "earliest_value = CASE WHEN u.earliest_ts IS NULL OR excluded.earliest_ts"
                " < u.earliest_ts THEN excluded.earliest_value ELSE u.earliest_value END",
                "earliest_ts = LEAST(u.earliest_ts, excluded.earliest_ts)",
            ),
            clickhouse=("min(timestamp)", f"argMin(v, {_ORDER})"),
            pg_aggregates=None,
            pick="ASC",
            dump=lambda fold: (fold.earliest_ts, fold.earliest_value),
            load=_load_earliest,
        ),
    )
}
ALL_PARTS = frozenset(PARTS)
