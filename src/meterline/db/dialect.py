"""What differs between SQLite and PostgreSQL, in one place.

Every repository and store asks ``SqlDialect`` (or ``dialect_of``) instead of comparing
``dialect.name`` itself:

* parameters: the driver's positional mark (``?``/``%s``) and ``:name`` text rewritten to
  the driver's named style;
* values written by raw SQL exactly as the models' column types write them (``Money``:
  canonical decimal text on SQLite, NUMERIC on PostgreSQL; ``UTCDateTime``: naive UTC; JSON:
  text on SQLite), so the ORM reads what raw SQL writes and the other way round;
* upserts (``insert``: the dialect's ``INSERT ... ON CONFLICT`` construct);
* row locks (``for_update``: ``FOR UPDATE [SKIP LOCKED]`` on PostgreSQL; a SQLite write
  transaction already holds the whole database) and transaction-scoped advisory locks.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from meterline.kernel.money import decimal_text

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_S = TypeVar("_S", bound=Select[Any])


class SqlDialect:
    """How one database spells parameters, upserts and locks, and stores Money, instants
    and JSON. ``name`` is SQLAlchemy's dialect name (``sqlite`` or ``postgresql``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_sqlite = name == SQLITE
        self.postgres = name == POSTGRESQL
        # The DB-API positional parameter of the driver (sqlite3: qmark; psycopg: format).
        self.mark = "?" if self.is_sqlite else "%s"

    def __repr__(self) -> str:
        return f"SqlDialect({self.name!r})"

    # ---- statements ----------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """``statement`` written with ``:name`` parameters, in this driver's style."""
        if self.postgres:
            return re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", statement)
        return statement

    def insert(self, table: Any) -> Any:
        """An ``INSERT`` supporting ``on_conflict_do_nothing``/``on_conflict_do_update``."""
        if self.postgres:
            return postgresql.insert(table)
        return sqlite.insert(table)

    def for_update(self, query: _S, *, skip_locked: bool = False) -> _S:
        """``query`` locking its rows on PostgreSQL (``skip_locked``: skip rows others hold)."""
        if self.postgres:
            return query.with_for_update(skip_locked=skip_locked)
        return query

    def advisory_lock(self, session: Session, key: str, *, shared: bool = False) -> None:
        """Hold a lock named ``key`` until the transaction ends (PostgreSQL: across
        processes; SQLite's write transaction already excludes every other writer)."""
        if self.postgres:
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            session.execute(text(f"SELECT {function}(hashtext(:key))"), {"key": key})

    def advisory_lock_sql(self, *, shared: bool = False) -> str | None:
        """The raw statement taking ``advisory_lock`` (one ``mark`` parameter: the key), or
        None when the dialect needs none."""
        if not self.postgres:
            return None
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        return f"SELECT {function}(hashtext({self.mark}))"

    # ---- values --------------------------------------------------------------------------

    def money_in(self, value: Decimal | None) -> Any:
        if value is None:
            return None
        return value if self.postgres else decimal_text(value)

    def money_out(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(decimal_text(value if isinstance(value, Decimal) else Decimal(value)))

    def moment_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        if self.postgres:
            return naive
        # SQLAlchemy's SQLite DATETIME text, so that both read each other's rows.
        return naive.isoformat(sep=" ", timespec="microseconds")

    def moment_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)

    def json_in(self, value: Any) -> Any:
        if value is None:
            return None
        if self.postgres:
            from psycopg.types.json import Json  # the driver only PostgreSQL needs

            return Json(value)
        return json.dumps(value)

    def json_out(self, value: Any) -> Any:
        if value is None or self.postgres:
            return value  # psycopg has parsed it already
        return json.loads(value)


@functools.cache
def dialect_named(name: str) -> SqlDialect:
    """The one ``SqlDialect`` of each name."""
    return SqlDialect(name)


def dialect_of(bind: Session | Any) -> SqlDialect:
    """The dialect of a session, connection, engine or SQLAlchemy ``Dialect``."""
    return dialect_named(_name(bind))


def is_sqlite(bind: Session | Any) -> bool:
    """Whether ``bind`` (as for ``dialect_of``) is SQLite."""
    return _name(bind) == SQLITE


def _name(bind: Session | Any) -> str:
    target: Any = bind.get_bind() if isinstance(bind, Session) else bind
    return str(getattr(target, "dialect", target).name)
