"""Engines and sessions.

SQLite is opened in WAL mode with ``synchronous=NORMAL`` (durable at every commit
checkpoint boundary, fsync at checkpoint; a power loss can lose the last commits but never
corrupts, and a process crash loses nothing). Writes take the database write lock at the
start of the transaction (``BEGIN IMMEDIATE``) so that a read-then-write transaction never
fails half-way with ``SQLITE_BUSY``; reads use a separate engine with plain ``BEGIN`` so
they never queue behind writers.

PostgreSQL uses one pooled engine for both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from meterline.db import catalog_version
from meterline.db.base import canonical_decimal
from meterline.db.dialect import SqlDialect, dialect_named
from meterline.entitlements.reads import READS
from meterline.kernel.money import MONEY_CONTEXT, saturate
from meterline.settings import EventStoreSettings, Settings

# The key of a session's ``info`` that holds the process's event-store settings.
EVENTS_INFO = "meterline.events"

log = logging.getLogger("meterline.db")


def _decimal_add(left: str | None, right: str | None) -> str | None:
    # In the money context (the default one rounds past 28 digits); a rollup total that
    # would pass the bounds stays at the largest value, as PostgreSQL's upsert keeps it.
    if left is None or right is None:
        return right if left is None else left
    return canonical_decimal(saturate(MONEY_CONTEXT.add(Decimal(left), Decimal(right))))


def _decimal_min(left: str | None, right: str | None) -> str | None:
    if left is None or right is None:
        return right if left is None else left
    return left if Decimal(left) <= Decimal(right) else right


def _decimal_max(left: str | None, right: str | None) -> str | None:
    if left is None or right is None:
        return right if left is None else left
    return left if Decimal(left) >= Decimal(right) else right


def register_decimal_functions(dbapi_connection: Any) -> None:
    """Exact decimal arithmetic on SQLite's text decimals, for upserts that fold in SQL."""
    for name, function in (
        ("ml_decimal_add", _decimal_add),
        ("ml_decimal_min", _decimal_min),
        ("ml_decimal_max", _decimal_max),
    ):
        dbapi_connection.create_function(name, 2, function, deterministic=True)


def _sqlite_engine(url: str, settings: Settings, *, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{int(settings.database.sqlite_cache_kib)}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # Checkpoints are run by a background thread (Database.start_checkpointer) so that
        # a commit never pays for copying the WAL into the database file.
        cursor.execute(
            f"PRAGMA wal_autocheckpoint={int(settings.database.sqlite_autocheckpoint_pages)}"
        )
        cursor.close()
        register_decimal_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class Database:
    """The database of one Meterline process: a write engine and a read engine."""

    url: str
    write_engine: Engine
    read_engine: Engine
    # Where this process's events live; every session carries it (``session.info``), so the
    # read path finds its store without a global lookup (metering/backend.py).
    events: EventStoreSettings = field(default_factory=EventStoreSettings)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.sql.is_sqlite

    @property
    def sql(self) -> SqlDialect:
        """What differs between SQLite and PostgreSQL (``db/dialect.py``)."""
        return dialect_named(self.dialect)

    @classmethod
    def connect(cls, settings: Settings, url: str | None = None) -> Database:
        url = url or settings.database.url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if url.startswith("sqlite"):
            size = settings.http.max_concurrent_requests + 6
            write = _sqlite_engine(url, settings, immediate=True, pool_size=size)
            read = _sqlite_engine(url, settings, immediate=False, pool_size=size)
            return cls(url=url, write_engine=write, read_engine=read, events=settings.events)
        pool = settings.database
        if pool.pool_size + pool.pool_max_overflow < settings.http.max_concurrent_requests + 6:
            raise ValueError(
                "METERLINE_POOL_SIZE + METERLINE_POOL_MAX_OVERFLOW must be at least"
                " METERLINE_MAX_CONCURRENT_REQUESTS + 6"
            )
        engine = create_engine(
            url,
            pool_size=pool.pool_size,
            max_overflow=pool.pool_max_overflow,
            pool_pre_ping=True,
        )
        return cls(url=url, write_engine=engine, read_engine=engine, events=settings.events)

    def __post_init__(self) -> None:
        # The tables the entitlement read model declares it reads (entitlements/reads.py).
        catalog_version.watch(self.write_engine, READS)
        if self.read_engine is not self.write_engine:
            catalog_version.watch(self.read_engine, READS)
        info = {EVENTS_INFO: self.events}
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False, info=info)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False, info=info)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        factory = self._write_sessions if write else self._read_sessions
        with factory() as session:
            try:
                yield session
                if write:
                    session.commit()
                else:
                    session.rollback()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def rehearsal(self) -> Iterator[Session]:
        """A unit of work that writes and is always rolled back (a dry run). It takes the
        write engine's lock (SQLite: ``BEGIN IMMEDIATE``), so it waits its turn behind a
        concurrent writer instead of failing as a read transaction that writes would."""
        with self._write_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """SQLite: checkpoint the WAL in the background (PASSIVE: never blocks a writer)."""
        if not self.is_sqlite or getattr(self, "_checkpointer", None) is not None:
            return
        self._stop_checkpointer = threading.Event()

        def run() -> None:
            while not self._stop_checkpointer.wait(interval):
                try:
                    with self.read_engine.connect() as conn:
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:  # a busy database: try again next time
                    log.debug("checkpoint skipped", exc_info=True)

        thread = threading.Thread(target=run, name="meterline-checkpoint", daemon=True)
        thread.start()
        self._checkpointer: threading.Thread | None = thread

    def dispose(self) -> None:
        checkpointer = getattr(self, "_checkpointer", None)
        if checkpointer is not None:
            self._stop_checkpointer.set()
            checkpointer.join(timeout=10)
            self._checkpointer = None
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
