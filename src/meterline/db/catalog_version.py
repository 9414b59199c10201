"""Catalog versions: numbers that change whenever what a check depends on changes.

The hot reads (entitlement checks, the usage summary) keep in memory what a customer is
granted and who a key is. They may do so only while nothing they were built from has
changed, in this process or any other (several ``serve`` processes on one PostgreSQL, or
``meterline bill`` next to a server on SQLite). So every transaction that writes a watched
table adds one to a version row, in the same transaction, just before it commits:

* the row of one customer (``scope`` = its id) when all the transaction wrote was that
  customer, or its subscriptions: a sign-up, a cancellation, a plan's subscriber changing
  does not drop what is kept of every other customer;
* the global row (``scope`` = ``*``) for anything else: keys, environments, features,
  meters, plans, grants, or a write whose customer cannot be told from its statement.

Which tables are watched, and how, is not listed here: each read model declares the tables
it reads (``Read``: the entitlement read model's are ``entitlements/reads.py``) and
:func:`watch` derives the watch from that declaration. Inserting a row of a table declared
``inserts_matter=False`` moves nothing: nothing is kept of a row that did not exist (a miss
is never kept). A cache stamped with the versions it was built under is stale as soon as a
stored version differs. Tests hold the declaration to what a snapshot build reads and to
what the code writes (``tests/entitlements/test_declared_reads.py``).

The bumps are the transaction's last statements, so the row locks they take on PostgreSQL
are held only for the commit itself and never ordered before another lock (no deadlock).
The watch is on the engine (``after_execute``), so ORM flushes and Core statements alike
are seen; nothing writes these tables with raw SQL text (a test scans the code for it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Engine, String, event
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import Insert, UpdateBase

from meterline.db.base import Base
from meterline.db.dialect import dialect_of

GLOBAL = "*"
# How a read table's rows map to a version (``Read.scope``).
WHOLE = "global"  # any write moves the global version
CUSTOMER = "customer"  # the rows are customers: a write moves that customer's version
OF_CUSTOMER = "of_customer"  # each row belongs to one customer (its ``customer_id``)


@dataclass(frozen=True)
class Read:
    """One table a cache is built from, declared by the cache (its read model).

    ``inserts_matter=False``: a new row cannot change anything kept (a miss is never kept),
    so inserting moves no version. ``scope`` says which version a write moves."""

    table: str
    inserts_matter: bool = True
    scope: str = WHOLE


@dataclass(frozen=True)
class Watch:
    """What :func:`watch` derives from the declared reads."""

    tables: frozenset[str]
    inserts_harmless: frozenset[str]
    customer_rows: frozenset[str]
    customer_owned: frozenset[str]

    @classmethod
    def of(cls, reads: Iterable[Read]) -> Watch:
        declared = list(reads)
        return cls(
            tables=frozenset(r.table for r in declared),
            inserts_harmless=frozenset(r.table for r in declared if not r.inserts_matter),
            customer_rows=frozenset(r.table for r in declared if r.scope == CUSTOMER),
            customer_owned=frozenset(r.table for r in declared if r.scope == OF_CUSTOMER),
        )


_GLOBAL_DIRTY = "meterline_catalog_dirty"
_CUSTOMERS = "meterline_catalog_customers"
_OWNED = "meterline_catalog_owned"  # {table: ids} of customer-owned rows written
READ = "SELECT version FROM catalog_version WHERE scope = '*'"


class CatalogVersion(Base):
    __tablename__ = "catalog_version"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def _rows(multiparams: Any, params: Any) -> list[dict[str, Any]] | None:
    """The statement's parameter sets, or None if any is not a plain mapping."""
    sets = list(multiparams) if multiparams else []
    if params:
        sets.append(params)
    if not sets or not all(isinstance(one, dict) for one in sets):
        return None
    return sets


def _all(values: Iterable[Any]) -> list[str] | None:
    found = list(values)
    return found if found and all(isinstance(v, str) for v in found) else None


def _note(
    conn: Any,
    statement: UpdateBase,
    table: str,
    rows: list[dict[str, Any]] | None,
    declared: Watch,
) -> None:
    """Record what the statement wrote: one customer's rows, or (anything else) global."""
    inserting = isinstance(statement, Insert)
    if inserting and table in declared.inserts_harmless:
        return
    if rows is not None:
        # The ORM names a row's primary key "<table>_id" in an UPDATE's or DELETE's WHERE.
        if table in declared.customer_rows:
            ids = _all(r.get(f"{table}_id") for r in rows)
            if ids:
                conn.info.setdefault(_CUSTOMERS, set()).update(ids)
                return
        elif table in declared.customer_owned and inserting:
            ids = _all(r.get("customer_id") for r in rows)
            if ids:
                conn.info.setdefault(_CUSTOMERS, set()).update(ids)
                return
        elif table in declared.customer_owned and not any("customer_id" in r for r in rows):
            ids = _all(r.get(f"{table}_id") for r in rows)
            if ids:
                conn.info.setdefault(_OWNED, {}).setdefault(table, set()).update(ids)
                return
    conn.info[_GLOBAL_DIRTY] = True


def watch(engine: Engine, reads: Iterable[Read]) -> None:
    """Bump the versions at the commit of every transaction that wrote a table of ``reads``
    (what the read models declare they read: ``entitlements/reads.py``)."""
    placeholder = dialect_of(engine).mark
    declared = Watch.of(reads)

    @event.listens_for(engine, "after_execute")
    def _seen(conn: Any, statement: Any, multiparams: Any, params: Any, *_args: Any) -> None:
        if isinstance(statement, UpdateBase):
            table = getattr(getattr(statement, "table", None), "name", None)
            if table in declared.tables:
                _note(conn, statement, table, _rows(multiparams, params), declared)

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        everything = conn.info.pop(_GLOBAL_DIRTY, False)
        customers: set[str] = conn.info.pop(_CUSTOMERS, set())
        owned: dict[str, set[str]] = conn.info.pop(_OWNED, {})
        if not (everything or customers or owned):
            return
        # The DBAPI cursor: SQLAlchemy's own execute is not allowed while committing.
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for table, ids in sorted(owned.items()):
                if everything:
                    break
                marks = ", ".join([placeholder] * len(ids))
                # table is a declared name (Watch.customer_owned), never client input.
                cursor.execute(
                    f"SELECT customer_id FROM {table} WHERE id IN ({marks})", tuple(sorted(ids))
                )
                owners = [row[0] for row in cursor.fetchall()]
                if len(owners) < len(ids):
                    everything = True  # a row gone: its customer is unknown
                customers.update(owners)
            if everything:
                _bump(cursor, placeholder, GLOBAL)
            else:
                for customer in sorted(customers):  # one lock order for every writer
                    _bump(cursor, placeholder, customer)
        finally:
            cursor.close()

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        for key in (_GLOBAL_DIRTY, _CUSTOMERS, _OWNED):
            conn.info.pop(key, None)


def _bump(cursor: Any, placeholder: str, scope: str) -> None:
    cursor.execute(
        f"INSERT INTO catalog_version (scope, version) VALUES ({placeholder}, 1)"
        " ON CONFLICT (scope) DO UPDATE SET version = catalog_version.version + 1",
        (scope,),
    )


def read(dbapi_connection: Any) -> int | None:
    """The global version (None if its row is missing: then nothing may be kept)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(READ)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else int(row[0])


def read_customer(dbapi_connection: Any, customer_id: str) -> int:
    """One customer's version (0 until its rows are first changed)."""
    mark = "?" if isinstance(dbapi_connection, sqlite3.Connection) else "%s"
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SELECT version FROM catalog_version WHERE scope = {mark}", (customer_id,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    return 0 if row is None else int(row[0])
