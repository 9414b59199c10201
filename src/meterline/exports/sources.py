"""What each export reads: its columns, its time column and its SQL, streamed.

Each source reads one environment's rows over a range of its time column, as of the
task's snapshot instant (rows created after it are left out; events ingested after it
too), ordered so that the file is stable: the same task downloads the same rows.
Rows are fetched :data:`BATCH_ROWS` at a time (``yield_per``: a server-side cursor on
PostgreSQL), so memory stays flat whatever the size of the export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.customers.models import Customer
from meterline.exports.formats import Layout
from meterline.invoicing.models import Invoice
from meterline.kernel.instants import from_micros, to_micros
from meterline.metering.models import Event, UsageDaily
from meterline.subscriptions.models import Subscription

BATCH_ROWS = 1000


@dataclass(frozen=True)
class Window:
    environment_id: str
    start: datetime | None
    end: datetime | None
    snapshot_at: datetime


@dataclass(frozen=True)
class Source:
    """One exportable entity."""

    layout: Layout
    statement: Callable[[Window], Select[Any]]
    row: Callable[[Any], dict[str, Any]]
    # True when an export of it must name a range (its rows are unbounded in number).
    needs_range: bool


def _between(column: Any, start: Any, end: Any) -> list[ColumnElement[bool]]:
    where = []
    if start is not None:
        where.append(column >= start)
    if end is not None:
        where.append(column < end)
    return where


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


# events -------------------------------------------------------------------------------

EVENT_LAYOUT = Layout(
    (
        "event_id",
        "event_name",
        "external_customer_id",
        "customer_id",
        "timestamp",
        "source",
        "properties",
        "ingested_at",
    ),
    frozenset({"event_id", "event_name", "external_customer_id", "source"}),
)


def _events(w: Window) -> Select[Any]:
    return (
        select(*Event.__table__.columns)
        .where(
            Event.environment_id == w.environment_id,
            Event.ingested_at <= to_micros(w.snapshot_at),
            *_between(Event.timestamp, _micros(w.start), _micros(w.end)),
        )
        .order_by(Event.timestamp, Event.seq)
    )


def _event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    try:
        properties = json.loads(event["properties"] or "{}")
    except ValueError:
        properties = {}
    return {
        "event_id": event["event_id"],
        "event_name": event["event_name"],
        "external_customer_id": event["external_customer_id"],
        "customer_id": event["customer_id"],
        "timestamp": from_micros(event["timestamp"]),
        "source": event["source"],
        "properties": properties,
        "ingested_at": from_micros(event["ingested_at"]),
    }


# usage (the daily rollups) ------------------------------------------------------------

USAGE_LAYOUT = Layout(
    (
        "meter_id",
        "external_customer_id",
        "day",
        "event_count",
        "sum_value",
        "min_value",
        "max_value",
    ),
    frozenset({"external_customer_id"}),
)


def _usage(w: Window) -> Select[Any]:
    # A rollup has no creation instant: the snapshot cannot apply to it (docs/exports.md).
    return (
        select(*UsageDaily.__table__.columns)
        .where(
            UsageDaily.environment_id == w.environment_id,
            *_between(UsageDaily.bucket_start, _micros(w.start), _micros(w.end)),
        )
        .order_by(UsageDaily.bucket_start, UsageDaily.meter_id, UsageDaily.external_customer_id)
    )


def _usage_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "meter_id": row["meter_id"],
        "external_customer_id": row["external_customer_id"],
        "day": from_micros(row["bucket_start"]).date().isoformat(),
        "event_count": row["event_count"],
        "sum_value": row["sum_value"],
        "min_value": row["min_value"],
        "max_value": row["max_value"],
    }


# rows with a creation instant ---------------------------------------------------------


def _created_between(model: Any, created: InstrumentedAttribute[Any]) -> Callable[[Window], Any]:
    def statement(w: Window) -> Select[Any]:
        return (
            select(*model.__table__.columns)
            .where(
                model.environment_id == w.environment_id,
                created <= w.snapshot_at,
                *_between(created, w.start, w.end),
            )
            .order_by(created, model.id)
        )

    return statement


def _columns_of(names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    def row(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {name: obj[name] for name in names}

    return row


CUSTOMER_COLUMNS = (
    "id",
    "external_id",
    "name",
    "email",
    "timezone",
    "billing_currency",
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
    "metadata",
    "status",
    "created_at",
    "updated_at",
)
INVOICE_COLUMNS = (
    "id",
    "customer_id",
    "subscription_id",
    "invoice_number",
    "invoice_type",
    "invoice_status",
    "payment_status",
    "currency",
    "subtotal",
    "total_discount",
    "total_tax",
    "total",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "period_start",
    "period_end",
    "due_date",
    "finalized_at",
    "created_at",
)
SUBSCRIPTION_COLUMNS = (
    "id",
    "customer_id",
    "plan_id",
    "subscription_status",
    "currency",
    "billing_period",
    "billing_period_count",
    "start_date",
    "end_date",
    "current_period_start",
    "current_period_end",
    "cancelled_at",
    "status",
    "created_at",
)

SOURCES: dict[str, Source] = {
    "EVENTS": Source(EVENT_LAYOUT, _events, _event_row, needs_range=True),
    "USAGE": Source(USAGE_LAYOUT, _usage, _usage_row, needs_range=True),
    "CUSTOMERS": Source(
        Layout(
            CUSTOMER_COLUMNS,
            frozenset(c for c in CUSTOMER_COLUMNS if c.startswith(("name", "email", "address"))),
        ),
        _created_between(Customer, Customer.created_at),
        _columns_of(CUSTOMER_COLUMNS),
        needs_range=False,
    ),
    "INVOICES": Source(
        Layout(INVOICE_COLUMNS, frozenset({"invoice_number"})),
        _created_between(Invoice, Invoice.created_at),
        _columns_of(INVOICE_COLUMNS),
        needs_range=False,
    ),
    "SUBSCRIPTIONS": Source(
        Layout(SUBSCRIPTION_COLUMNS, frozenset()),
        _created_between(Subscription, Subscription.created_at),
        _columns_of(SUBSCRIPTION_COLUMNS),
        needs_range=False,
    ),
}


def count(session: Session, source: Source, window: Window) -> int:
    stmt = source.statement(window).order_by(None)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def rows(session: Session, source: Source, window: Window) -> Iterator[dict[str, Any]]:
    """The rows of the export, fetched a batch at a time."""
    result = session.execute(source.statement(window).execution_options(yield_per=BATCH_ROWS))
    for row in result.mappings():
        yield source.row(row)
