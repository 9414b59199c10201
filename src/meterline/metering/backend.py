"""Choosing the event store: ``METERLINE_EVENT_STORE=sql|clickhouse``.

The choice is the ``events`` section of the process's settings, handed in: by the writer
and the read model (built from the settings in ``app.py``), and, on the read path, by the
session, which carries the settings its ``Database`` was connected with
(``db.engine.EVENTS_INFO``). A session made outside a ``Database`` reads the SQL store.

The SQL store is stateless (a dialect name); the ClickHouse store holds a client, so one is
opened per process on first use and shared by the writer thread and every request.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from meterline.db.dialect import dialect_of
from meterline.db.engine import EVENTS_INFO
from meterline.metering.query import UsageReader
from meterline.metering.stores.clickhouse import ClickHouseEventStore
from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader
from meterline.metering.stores.protocol import EventStore
from meterline.metering.stores.sql import SqlEventStore
from meterline.settings import EventStoreSettings

_lock = threading.Lock()
_clickhouse: dict[str, ClickHouseEventStore] = {}
_SQL_ONLY = EventStoreSettings()


def clickhouse_store(events: EventStoreSettings) -> ClickHouseEventStore:
    """The process's ClickHouse store for ``events.clickhouse_url`` (created on first use)."""
    url = events.clickhouse_url
    if not url:
        raise RuntimeError("METERLINE_EVENT_STORE=clickhouse needs METERLINE_CLICKHOUSE_URL")
    with _lock:
        store = _clickhouse.get(url)
        if store is None:
            store = ClickHouseEventStore.from_url(url)
            _clickhouse[url] = store
        return store


def _events_of(session: Session) -> EventStoreSettings:
    events = session.info.get(EVENTS_INFO)
    return events if isinstance(events, EventStoreSettings) else _SQL_ONLY


def event_store(dialect: str, events: EventStoreSettings) -> EventStore:
    """The configured event store; ``dialect`` is the catalog database's (for the SQL store)."""
    if events.store == "clickhouse":
        return clickhouse_store(events)
    return SqlEventStore(dialect)


def session_event_store(session: Session) -> EventStore:
    """The event store of the process ``session`` belongs to."""
    return event_store(dialect_of(session).name, _events_of(session))


def usage_reader(session: Session) -> UsageReader:
    """The usage reader of the process ``session`` belongs to."""
    return reader_for(dialect_of(session).name, _events_of(session))


def reader_for(dialect: str, events: EventStoreSettings) -> UsageReader:
    """The usage reader for the configured store; ``dialect`` is the catalog database's."""
    if events.store == "clickhouse":
        return ClickHouseUsageReader(clickhouse_store(events))
    return UsageReader(SqlEventStore(dialect))
