"""Usage queries: a meter's aggregate for one customer or all, over windows.

Full hours come from the hourly aggregates kept at write time; the partial hours at the
edges of the range, and what cannot be folded (an aggregation that is not ``foldable``, such
as COUNT_UNIQUE and WEIGHTED_SUM; query-time property filters, group-by, sub-hour windows),
come from raw events. What an event contributes and what a fold yields is the meter's
aggregation's (``aggregations.AGGREGATIONS``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from meterline.kernel.calendar import zone
from meterline.kernel.money import in_money_context
from meterline.metering import rebuilds
from meterline.metering.aggregations import (
    DAY_US,
    HOUR_ALIGNED_WINDOWS,
    HOUR_US,
    ZERO,
    Fold,
    MeterSpec,
    Period,
    aggregation_of,
    matches,
    property_text,
    tidy,
)
from meterline.metering.stores.sql import SqlEventStore
from meterline.metering.stores.sql_reads import EventRange, StoredEvent
from meterline.metering.windows import hour_aligned, utc_offset_zero, window_start


@dataclass(frozen=True)
class UsageQuery:
    meter: MeterSpec
    start: int  # µs, inclusive
    end: int  # µs, exclusive
    customer: str | None = None
    window: str | None = None
    timezone: str | None = None
    billing_anchor: datetime | None = None
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    group_by: str | None = None
    # Whether the meter's aggregates may be read, when the caller already asked
    # (``rebuilds.current_of``, once for many meters); None: looked up here.
    aggregates_current: bool | None = None


@dataclass
class WindowValue:
    start: int
    value: Decimal


@dataclass
class GroupValue:
    group: str | None
    value: Decimal
    windows: list[WindowValue] = field(default_factory=list)


@dataclass
class UsageResult:
    value: Decimal
    windows: list[WindowValue]
    groups: list[GroupValue]
    # For bucketed meters: each bucket's value (what pricing charges per bucket).
    buckets: list[WindowValue]


class UsageReader:
    def __init__(self, store: SqlEventStore) -> None:
        self.store = store

    @in_money_context
    def query(self, conn: Connection, q: UsageQuery) -> UsageResult:
        tz = zone(q.timezone)
        if q.end <= q.start:
            return UsageResult(ZERO, [], [], [])
        folds = None
        # A meter whose rebuild is not done yet has aggregates that do not match it yet.
        if self._foldable(q, tz) and (
            q.aggregates_current
            if q.aggregates_current is not None
            else rebuilds.current(conn, q.meter.id)
        ):
            folds = self._folds_from_hourly(conn, q, tz)
        if folds is not None and not any(fold.tied for fold in folds.values()):
            return self._finish(q, tz, folds)
        return self._from_raw(conn, q, tz)

    @in_money_context
    def query_raw(self, conn: Connection, q: UsageQuery) -> UsageResult:
        """The same answer from raw events only (ad-hoc aggregations have no aggregates)."""
        if q.end <= q.start:
            return UsageResult(ZERO, [], [], [])
        return self._from_raw(conn, q, zone(q.timezone))

    # -- path selection ----------------------------------------------------------------

    def _foldable(self, q: UsageQuery, tz: ZoneInfo) -> bool:
        meter = q.meter
        if not aggregation_of(meter.aggregation_type).foldable:
            return False
        if q.filters or q.group_by or meter.group_by:
            return False
        for size in (q.window, meter.bucket_size):
            if size is not None and size not in HOUR_ALIGNED_WINDOWS:
                return False
        return hour_aligned(tz, (q.start, q.end))

    def _unit(self, q: UsageQuery) -> str | None:
        """The finest grouping the result needs: the meter's bucket, else the window."""
        return q.meter.bucket_size or q.window

    # -- folded path ------------------------------------------------------------------------

    def _folds_from_hourly(
        self, conn: Connection, q: UsageQuery, tz: ZoneInfo
    ) -> dict[int, Fold] | None:
        """Folds per unit start (or a single key 0), or None when hours straddle a unit."""
        unit = self._unit(q)
        first_full = -(-q.start // HOUR_US) * HOUR_US
        last_full = q.end - q.end % HOUR_US
        folds: dict[int, Fold] = defaultdict(Fold)

        def key_of(micros: int) -> int:
            return window_start(micros, unit, tz, q.billing_anchor) if unit else 0

        if first_full >= last_full:
            self._fold_raw_into(conn, q, q.start, q.end, folds, key_of)
            return folds
        self._fold_raw_into(conn, q, q.start, first_full, folds, key_of)
        self._fold_raw_into(conn, q, last_full, q.end, folds, key_of)
        needs = aggregation_of(q.meter.aggregation_type).parts
        # Whole UTC days come from the daily rollup, the hours around them from the hourly
        # one. Days can serve a windowed query only when each UTC day lies inside one
        # window: day-or-longer windows in a zone at UTC+0.
        first_day = -(-first_full // DAY_US) * DAY_US
        last_day = last_full - last_full % DAY_US
        days_fit = unit is None or (
            unit in ("DAY", "WEEK", "MONTH") and utc_offset_zero(tz, (q.start, q.end))
        )
        spans: list[tuple[str, int, int]] = []
        if days_fit and first_day < last_day:
            spans = [
                ("usage_hourly", first_full, first_day),
                ("usage_daily", first_day, last_day),
                ("usage_hourly", last_day, last_full),
            ]
        else:
            spans = [("usage_hourly", first_full, last_full)]
        for table, span_start, span_end in spans:
            if span_end <= span_start:
                continue
            if not unit:
                folds[0].merge(
                    self.store.hourly_total(
                        conn,
                        q.meter.id,
                        q.meter.environment_id,
                        q.customer,
                        span_start,
                        span_end,
                        needs=needs,
                        table=table,
                    )
                )
                continue
            width = DAY_US if table == "usage_daily" else HOUR_US
            for _customer, bucket, fold in self.store.hourly(
                conn,
                q.meter.environment_id,
                q.meter.id,
                q.customer,
                span_start,
                span_end,
                needs=needs,
                table=table,
            ):
                key = key_of(bucket)
                if key_of(bucket + width - 1) != key:
                    return None  # a bucket straddles a window boundary (odd zone offset)
                folds[key].merge_apart(fold)
        return folds

    def _fold_raw_into(
        self,
        conn: Connection,
        q: UsageQuery,
        start: int,
        end: int,
        folds: dict[int, Fold],
        key_of: object,
    ) -> None:
        if end <= start:
            return
        assert callable(key_of)
        aggregation = aggregation_of(q.meter.aggregation_type)
        period = Period(q.start, q.end)
        for event in self._matching(conn, q, start, end):
            aggregation.contribute(folds[key_of(event.timestamp)], q.meter, event, period)

    # -- raw path -------------------------------------------------------------------------

    def _scan(self, conn: Connection, q: UsageQuery, start: int, end: int) -> Iterable[StoredEvent]:
        """The meter's raw events of ``q``'s customer in ``[start, end)``, in ingest order."""
        meter = q.meter
        return self.store.scan(
            conn, meter.environment_id, EventRange(meter.event_name, q.customer, start, end)
        )

    def _matching(
        self, conn: Connection, q: UsageQuery, start: int, end: int
    ) -> Iterable[StoredEvent]:
        meter = q.meter
        for event in self._scan(conn, q, start, end):
            if meter.filters and not matches(event.properties, meter.filters):
                continue
            if q.filters and not matches(event.properties, q.filters):
                continue
            yield event

    def _from_raw(self, conn: Connection, q: UsageQuery, tz: ZoneInfo) -> UsageResult:
        meter = q.meter
        unit = self._unit(q)
        group_field = q.group_by or meter.group_by
        # group → unit start → fold
        grouped: dict[str | None, dict[int, Fold]] = defaultdict(lambda: defaultdict(Fold))
        aggregation = aggregation_of(meter.aggregation_type)
        period = Period(q.start, q.end)
        for event in self._matching(conn, q, q.start, q.end):
            group = property_text(event.properties.get(group_field)) if group_field else None
            key = window_start(event.timestamp, unit, tz, q.billing_anchor) if unit else 0
            aggregation.contribute(grouped[group][key], meter, event, period)
        return self._assemble(q, tz, grouped)

    def _assemble(
        self, q: UsageQuery, tz: ZoneInfo, grouped: Mapping[str | None, Mapping[int, Fold]]
    ) -> UsageResult:
        """The result of folds per group and unit start (the one group None if ungrouped)."""
        if not (q.group_by or q.meter.group_by):
            return self._finish(q, tz, grouped.get(None, {}))
        parts = [
            (group, self._finish(q, tz, folds))
            for group, folds in sorted(grouped.items(), key=lambda g: (g[0] is None, g[0] or ""))
        ]
        total = sum((part.value for _g, part in parts), ZERO)
        windows: dict[int, Decimal] = defaultdict(Decimal)
        buckets: list[WindowValue] = []
        for _g, part in parts:
            for window in part.windows:
                windows[window.start] += window.value
            buckets.extend(part.buckets)
        return UsageResult(
            value=tidy(total),
            windows=[WindowValue(s, tidy(v)) for s, v in sorted(windows.items())],
            groups=[GroupValue(g, part.value, part.windows) for g, part in parts],
            buckets=buckets,
        )

    # -- shaping ------------------------------------------------------------------------------

    def _finish(self, q: UsageQuery, tz: ZoneInfo, folds: Mapping[int, Fold]) -> UsageResult:
        meter = q.meter
        aggregation = aggregation_of(meter.aggregation_type)
        if meter.bucket_size:
            # Bucketed meter: each bucket is aggregated on its own; the usage is their sum.
            buckets = [
                WindowValue(start, tidy(aggregation.result(meter, fold)))
                for start, fold in sorted(folds.items())
                if fold.count
            ]
            total = sum((b.value for b in buckets), ZERO)
            windows: list[WindowValue] = []
            if q.window:
                per_window: dict[int, Decimal] = defaultdict(Decimal)
                for bucket in buckets:
                    per_window[window_start(bucket.start, q.window, tz, q.billing_anchor)] += (
                        bucket.value
                    )
                windows = [WindowValue(s, tidy(v)) for s, v in sorted(per_window.items())]
            return UsageResult(tidy(total), windows, [], buckets)
        if q.window:
            windows = [
                WindowValue(start, tidy(aggregation.result(meter, fold)))
                for start, fold in sorted(folds.items())
                if fold.count
            ]
        else:
            windows = []
        overall = Fold()
        for fold in folds.values():
            overall.merge(fold)
        return UsageResult(tidy(aggregation.result(meter, overall)), windows, [], [])
