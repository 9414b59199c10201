"""The event-store seam: what the writer, the usage reader and the event API need of a store.

Two back ends implement it: ``SqlEventStore`` (events and hourly aggregates in the catalog
database, SQLite or PostgreSQL) and ``ClickHouseEventStore`` (events in ClickHouse,
aggregated there at query time). Usage queries are back-end specific: ``UsageReader`` reads
the SQL store's hourly aggregates, ``ClickHouseUsageReader`` pushes the whole aggregation
into ClickHouse; both give the same answers. Every method takes the catalog database connection of the
current unit of work; a store that keeps its events elsewhere ignores it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from sqlalchemy import Connection

from meterline.metering.aggregations import MeterSpec
from meterline.metering.ingest import EventRow
from meterline.metering.stores.sql_reads import EventPage, EventRange, StoredEvent


class EventStore(Protocol):
    def insert(self, conn: Connection, rows: Sequence[EventRow]) -> list[bool]:
        """Store the rows not stored before; per row, whether it was new (first one wins)."""
        ...

    def rebuild_hourly(self, conn: Connection, meter: MeterSpec) -> None:
        """Bring a new or changed meter's aggregates up to date with the stored events."""
        ...

    def scan(
        self, conn: Connection, environment_id: str, wanted: EventRange
    ) -> Iterator[StoredEvent]:
        """Raw events in ingest order within ``[start, end)``."""
        ...

    def page(
        self, conn: Connection, environment_id: str, wanted: EventPage = EventPage()
    ) -> tuple[list[StoredEvent], int]:
        """One page of raw events and the total that match."""
        ...
