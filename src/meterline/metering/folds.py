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

from meterline.kernel.money import LARGEST, MONEY_CONTEXT

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
    # Rows of different customers hold the same latest (or earliest) instant with different
    # values: the aggregates keep no ingest order across customers, so which one wins is
    # not known here and the read is answered from raw events (``metering/query.py``).
    tied: bool = False

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
        if other.tied:
            self.tied = True

    def merge_apart(self, other: Fold) -> None:
        """``merge`` for a fold whose ingest order against this one is not known (another
        customer's row of the same hour): a tie on the latest or earliest instant is flagged
        (``tied``) instead of being settled by the order of the rows."""
        if (
            other.latest_ts is not None
            and other.latest_ts == self.latest_ts
            and other.latest_value != self.latest_value
        ) or (
            other.earliest_ts is not None
            and other.earliest_ts == self.earliest_ts
            and other.earliest_value != self.earliest_value
        ):
            self.tied = True
        self.merge(other)


# ---- parts: what the stores keep of a fold ----------------------------------------------

Number = Callable[[Any], Decimal]


@dataclass(frozen=True)
class Part:
    """One part of a fold as the stores keep it.

    ``attributes``: the ``Fold`` fields it fills; ``columns``/``pg_types``: its columns in
    ``usage_hourly``/``usage_daily``, one per attribute; ``combine``: how many stored rows of
    it fold into one (``sum``, ``min``, ``max``; ``last``/``first``: the row with the
    greatest/smallest first column, an instant; rows of one customer are distinct hours or
    days and never tie, rows of several customers may: the fold is then ``tied``); ``sqlite_merge``/``postgres_merge``: the ``ON CONFLICT DO UPDATE``
    assignments that merge a delta (``excluded``) into a stored row (``u`` on PostgreSQL; on
    SQLite through the decimal functions of ``db/engine.py``); ``clickhouse``: its aggregates
    over the events' value ``v`` (ordered by ``(timestamp, ingested_at, batch_index)``), one
    per attribute; ``saturates``: the stored value is held within ``±LARGEST``.
    """

    name: str
    attributes: tuple[str, ...]
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]
    combine: str
    sqlite_merge: tuple[str, ...]
    postgres_merge: tuple[str, ...]
    clickhouse: tuple[str, ...]
    saturates: bool = False

    def load(self, fold: Fold, values: Sequence[Any], number: Number) -> None:
        """Fill ``fold`` from this part's column values (NULLs leave it unset)."""
        if len(self.attributes) == 1:
            if values[0] is not None:
                setattr(fold, self.attributes[0], number(values[0]))
        elif values[0] is not None and values[1] is not None:
            setattr(fold, self.attributes[0], int(values[0]))
            setattr(fold, self.attributes[1], number(values[1]))

    def fold_rows(self, fold: Fold, rows: Sequence[Sequence[Any]], at: int, number: Number) -> None:
        """Fill ``fold`` with this part of many stored rows (its columns from ``at``)."""
        if self.combine == "sum":
            setattr(fold, self.attributes[0], sum((number(r[at]) for r in rows), ZERO))
            return
        present = [r for r in rows if r[at] is not None]
        if not present:
            return
        if self.combine in ("min", "max"):
            pick = min if self.combine == "min" else max
            setattr(fold, self.attributes[0], pick(number(r[at]) for r in present))
            return
        choose = max if self.combine == "last" else min
        row = choose(present, key=lambda r: r[at])
        self.load(fold, row[at : at + 2], number)
        value = number(row[at + 1])
        if any(r[at] == row[at] and number(r[at + 1]) != value for r in present if r is not row):
            fold.tied = True


_ORDER = "(timestamp, ingested_at, batch_index)"
PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part(
            name="total",
            attributes=("total",),
            columns=("sum_value",),
            pg_types=("numeric",),
            combine="sum",
            sqlite_merge=("sum_value = ml_decimal_add(sum_value, excluded.sum_value)",),
            # A total that would pass NUMERIC(38, 12) stays at its largest value (kernel.money
            # bounds each event's value; only a sum of many can pass), never an overflow.
            postgres_merge=(
                "sum_value = LEAST(GREATEST(u.sum_value + excluded.sum_value,"
                f" -{LARGEST}), {LARGEST})",
            ),
            clickhouse=("sum(v)",),
            saturates=True,
        ),
        Part(
            name="min",
            attributes=("minimum",),
            columns=("min_value",),
            pg_types=("numeric",),
            combine="min",
            sqlite_merge=("min_value = ml_decimal_min(min_value, excluded.min_value)",),
            postgres_merge=("min_value = LEAST(u.min_value, excluded.min_value)",),
            clickhouse=("min(v)",),
        ),
        Part(
            name="max",
            attributes=("maximum",),
            columns=("max_value",),
            pg_types=("numeric",),
            combine="max",
            sqlite_merge=("max_value = ml_decimal_max(max_value, excluded.max_value)",),
            postgres_merge=("max_value = GREATEST(u.max_value, excluded.max_value)",),
            clickhouse=("max(v)",),
        ),
        Part(
            name="latest",
            attributes=("latest_ts", "latest_value"),
            columns=("latest_ts", "latest_value"),
            pg_types=("bigint", "numeric"),
            combine="last",
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
        ),
        Part(
            name="earliest",
            attributes=("earliest_ts", "earliest_value"),
            columns=("earliest_ts", "earliest_value"),
            pg_types=("bigint", "numeric"),
            combine="first",
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
        ),
    )
}
ALL_PARTS = frozenset(PARTS)
