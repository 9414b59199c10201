"""The catalog version: one number that changes whenever what a check depends on changes.

The hot reads (entitlement checks, the usage summary) keep in memory what a customer is
granted and who a key is. They may do so only while nothing they were built from has
changed, in this process or any other (several ``serve`` processes on one PostgreSQL, or
``meterline bill`` next to a server on SQLite). So every transaction that inserts, updates
or deletes a row of a watched table adds one to ``catalog_version`` just before it commits,
in the same transaction; a cache stamped with the version it was built under is stale as
soon as the stored version differs.

The bump is the transaction's last statement, so the one-row lock it takes on PostgreSQL
is held only for the commit itself and never ordered before another lock (no deadlock).
The watch is on the engine (``after_execute``), so ORM flushes and Core statements alike
are seen; nothing writes these tables with raw SQL text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Engine, Integer, event
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import UpdateBase

from meterline.db.base import Base

# Tables whose rows a cached check or key is built from.
WATCHED = frozenset(
    {
        "api_keys",
        "environments",
        "customers",
        "features",
        "meters",
        "plans",
        "entitlements",
        "subscriptions",
    }
)
_DIRTY = "meterline_catalog_dirty"
BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
READ = "SELECT version FROM catalog_version WHERE id = 1"


class CatalogVersion(Base):
    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def watch(engine: Engine) -> None:
    """Bump the version at the commit of every transaction that wrote a watched table."""

    @event.listens_for(engine, "after_execute")
    def _seen(conn: Any, statement: Any, *_args: Any) -> None:
        if isinstance(statement, UpdateBase):
            table = getattr(statement, "table", None)
            if getattr(table, "name", None) in WATCHED:
                conn.info[_DIRTY] = True

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        if conn.info.pop(_DIRTY, False):
            # The DBAPI cursor: SQLAlchemy's own execute is not allowed while committing.
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(BUMP)
            finally:
                cursor.close()

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        conn.info.pop(_DIRTY, None)


def read(dbapi_connection: Any) -> int | None:
    """The stored version (None if the row is missing: then nothing may be cached)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(READ)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else int(row[0])
