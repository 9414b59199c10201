"""The dashboard query: every customer's daily usage of one meter (UTC days).

On the SQL store it reads the daily aggregates (never raw events); on the ClickHouse store
ClickHouse aggregates the raw events per customer and day.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from meterline.metering import rebuilds
from meterline.metering.aggregations import (
    DAY_US,
    Fold,
    MeterSpec,
    aggregation_of,
    event_value,
    matches,
    result,
    tidy,
)
from meterline.metering.backend import usage_reader
from meterline.metering.query import UsageReader
from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader
from meterline.metering.stores.sql_reads import EventRange


def daily_usage_by_customer(
    reader: UsageReader, conn: Connection, meter: MeterSpec, start: int, end: int
) -> dict[str, dict[int, Decimal]]:
    """customer → UTC day start (µs) → usage, over ``[start, end)`` (whole UTC days).

    Only for meters whose aggregation folds (not COUNT_UNIQUE or WEIGHTED_SUM) and without
    group-by or buckets; days without events are left out.
    """
    aggregation = aggregation_of(meter.aggregation_type)
    if not aggregation.foldable or meter.bucket_size or meter.group_by:
        raise ValueError("the dashboard query needs a foldable meter without buckets or groups")
    if start % DAY_US or end % DAY_US:
        raise ValueError("the dashboard query covers whole UTC days")

    found: dict[str, dict[int, Decimal]] = defaultdict(dict)
    if isinstance(reader, ClickHouseUsageReader):
        for row in reader.clickhouse.folds(
            meter, customer=None, start=start, end=end, bucket_us=DAY_US, by_customer=True
        ):
            found[str(row.customer)][row.bucket] = tidy(result(meter, row.fold))
        return dict(found)
    if not rebuilds.current(conn, meter.id):
        # Its rebuild is pending: the daily aggregates do not match the meter yet.
        folds: dict[tuple[str, int], Fold] = defaultdict(Fold)
        for event in reader.store.scan(
            conn, meter.environment_id, EventRange(meter.event_name, None, start, end)
        ):
            if meter.filters and not matches(event.properties, meter.filters):
                continue
            day = event.timestamp - event.timestamp % DAY_US
            folds[event.external_customer_id, day].add(
                event_value(meter, event.properties), event.timestamp
            )
        for (customer, day), fold in folds.items():
            found[customer][day] = tidy(result(meter, fold))
        return dict(found)
    for customer, day, fold in reader.store.hourly(
        conn,
        meter.environment_id,
        meter.id,
        None,
        start,
        end,
        needs=aggregation.parts,
        table="usage_daily",
    ):
        found[customer][day] = tidy(result(meter, fold))
    return dict(found)


def meter_days_by_customer(
    session: Session, meter: MeterSpec, start: int, end: int
) -> dict[str, dict[int, Decimal]]:
    """:func:`daily_usage_by_customer` on the session's event store."""
    return daily_usage_by_customer(usage_reader(session), session.connection(), meter, start, end)
