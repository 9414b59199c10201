"""Usage queries on the ClickHouse store: the aggregation runs in ClickHouse.

The answers are those of ``UsageReader`` on the SQL store, to the event. ClickHouse returns
one partial aggregate (the count and the fold parts the aggregation reads) per group and
time bucket; buckets are
as wide as the window allows while still falling inside one window (the window itself for a
fixed window in UTC, else an hour or a minute), and Python maps each bucket to its window
with the same calendar code (``metering.windows.window_start``) and finishes with the same
shaping code. Aggregations that do not fold (COUNT_UNIQUE, WEIGHTED_SUM) are computed per
event, as on the SQL store, from raw events whose filters were applied in ClickHouse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from meterline.kernel.calendar import zone
from meterline.kernel.money import in_money_context
from meterline.metering.aggregations import (
    HOUR_ALIGNED_WINDOWS,
    HOUR_US,
    ZERO,
    Fold,
    aggregation_of,
)
from meterline.metering.query import UsageQuery, UsageReader, UsageResult
from meterline.metering.stores.clickhouse import BucketFold, ClickHouseEventStore, group_text
from meterline.metering.stores.sql_reads import EventRange, StoredEvent
from meterline.metering.windows import hour_aligned, window_start

MINUTE_US = 60_000_000
# Windows that are a fixed number of microseconds counted from the epoch in UTC.
_UTC_FIXED = {
    "MINUTE": MINUTE_US,
    "15MIN": 15 * MINUTE_US,
    "30MIN": 30 * MINUTE_US,
    "HOUR": HOUR_US,
    "3HOUR": 3 * HOUR_US,
    "6HOUR": 6 * HOUR_US,
    "12HOUR": 12 * HOUR_US,
    "DAY": 24 * HOUR_US,
}


class ClickHouseUsageReader(UsageReader):
    def __init__(self, store: ClickHouseEventStore) -> None:
        self.clickhouse = store

    @in_money_context
    def query(self, conn: Connection, q: UsageQuery) -> UsageResult:
        tz = zone(q.timezone)
        if q.end <= q.start:
            return UsageResult(ZERO, [], [], [])
        if not aggregation_of(q.meter.aggregation_type).foldable:
            return self._from_raw(conn, q, tz)
        unit = self._unit(q)
        for width in self._bucket_widths(q, tz, unit):
            grouped = self._grouped_folds(q, tz, unit, width)
            if grouped is not None:
                return self._assemble(q, tz, grouped)
        return self._from_raw(conn, q, tz)

    def query_raw(self, conn: Connection, q: UsageQuery) -> UsageResult:
        # Ad-hoc aggregations: ClickHouse aggregates raw events anyway.
        return self.query(conn, q)

    # -- buckets ---------------------------------------------------------------------------

    @staticmethod
    def _bucket_widths(q: UsageQuery, tz: ZoneInfo, unit: str | None) -> list[int | None]:
        """Bucket widths to try, widest first; a bucket must never straddle two windows."""
        if unit is None:
            return [None]
        widths: list[int | None] = []
        if tz.key == "UTC" and unit in _UTC_FIXED:
            widths.append(_UTC_FIXED[unit])
        if unit in HOUR_ALIGNED_WINDOWS and hour_aligned(tz, (q.start, q.end)):
            widths.append(HOUR_US)
        widths.append(MINUTE_US)
        return widths

    def _grouped_folds(
        self, q: UsageQuery, tz: ZoneInfo, unit: str | None, width: int | None
    ) -> dict[str | None, dict[int, Fold]] | None:
        """group → window start → fold; None when a bucket straddles a window boundary."""
        group_field = q.group_by or q.meter.group_by
        rows: list[BucketFold] = self.clickhouse.folds(
            q.meter,
            customer=q.customer,
            start=q.start,
            end=q.end,
            filters=q.filters,
            group_field=group_field,
            bucket_us=width,
        )
        windows: dict[int, int] = {}
        grouped: dict[str | None, dict[int, Fold]] = defaultdict(dict)
        for row in rows:
            key = 0
            if unit is not None and width is not None:
                known = windows.get(row.bucket)
                if known is None:
                    # The bucket's events lie in [max(bucket, start), min(bucket end, end)).
                    first = max(row.bucket, q.start)
                    known = window_start(first, unit, tz, q.billing_anchor)
                    last = min(row.bucket + width, q.end) - 1
                    if window_start(last, unit, tz, q.billing_anchor) != known:
                        return None
                    windows[row.bucket] = known
                key = known
            group = group_text(row.group) if group_field else None
            target = grouped[group].get(key)
            if target is None:
                grouped[group][key] = row.fold
            else:
                target.merge(row.fold)
        return grouped

    # -- raw path (aggregations that do not fold) ---------------------------------------------

    def _scan(self, conn: Connection, q: UsageQuery, start: int, end: int) -> Iterable[StoredEvent]:
        # The filters are applied in ClickHouse too; ``_matching`` checks them again in
        # Python, which keeps the rule in one place.
        meter = q.meter
        return self.clickhouse.scan(
            conn,
            meter.environment_id,
            EventRange(meter.event_name, q.customer, start, end),
            filters=tuple(meter.filters) + tuple(q.filters),
        )
