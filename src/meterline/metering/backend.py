"""Choosing the event store: ``METERLINE_EVENT_STORE=sql|clickhouse``.

The SQL store is stateless (a dialect name); the ClickHouse store holds a client, so one is
opened per process on first use and shared by the writer thread and every request.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from meterline.db.dialect import dialect_of
from meterline.metering.query import UsageReader
from meterline.metering.stores.clickhouse import ClickHouseEventStore
from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader
from meterline.metering.stores.protocol import EventStore
from meterline.metering.stores.sql import SqlEventStore
from meterline.settings import Settings, get_settings

_lock = threading.Lock()
_clickhouse: dict[str, ClickHouseEventStore] = {}


def clickhouse_store(settings: Settings) -> ClickHouseEventStore:
    """The process's ClickHouse store for ``settings.clickhouse_url`` (created on first use)."""
    url = settings.clickhouse_url
    if not url:
        raise RuntimeError("METERLINE_EVENT_STORE=clickhouse needs METERLINE_CLICKHOUSE_URL")
    with _lock:
        store = _clickhouse.get(url)
        if store is None:
            store = ClickHouseEventStore.from_url(url)
            _clickhouse[url] = store
        return store


def event_store(dialect: str, settings: Settings | None = None) -> EventStore:
    """The configured event store; ``dialect`` is the catalog database's (for the SQL store)."""
    settings = settings or get_settings()
    if settings.event_store == "clickhouse":
        return clickhouse_store(settings)
    return SqlEventStore(dialect)


def usage_reader(session: Session, settings: Settings | None = None) -> UsageReader:
    """The usage reader for the configured store."""
    return reader_for(dialect_of(session).name, settings)


def reader_for(dialect: str, settings: Settings | None = None) -> UsageReader:
    """The usage reader for the configured store; ``dialect`` is the catalog database's."""
    settings = settings or get_settings()
    if settings.event_store == "clickhouse":
        return ClickHouseUsageReader(clickhouse_store(settings))
    return UsageReader(SqlEventStore(dialect))
