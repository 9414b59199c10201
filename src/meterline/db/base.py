"""Declarative base and the column types every domain shares.

* ``Money``: exact decimals. PostgreSQL stores ``NUMERIC``; SQLite has no exact decimal
  column (its NUMERIC affinity turns values into floats), so there the value is kept as its
  canonical decimal string. Either way Python sees ``Decimal``.
* ``UTCDateTime``: instants stored as naive UTC, returned timezone-aware.
* ids are ``<prefix>_<ULID>`` like the upstream API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Index, MetaData, Numeric, String, TypeDecorator, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine
from ulid import ULID

from meterline.db.dialect import is_sqlite
from meterline.kernel.money import decimal_text

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def canonical_decimal(value: Decimal) -> str:
    """The shortest exact string of a decimal: ``Decimal("1.500")`` → ``"1.5"``, no exponent."""
    return decimal_text(value)


class Money(TypeDecorator[Decimal]):
    """An exact decimal column (see module docstring)."""

    impl = Numeric(38, 12)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if is_sqlite(dialect):
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 12, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if is_sqlite(dialect):
            return canonical_decimal(dec)
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        return Decimal(canonical_decimal(dec))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant, stored naive in UTC on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError("UTCDateTime needs a datetime")
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def unique_where(name: str, *columns: str, where: str) -> Index:
    """A unique index over ``columns`` of the rows where ``where`` holds: a partial index with
    the same predicate on SQLite and PostgreSQL."""
    return Index(
        name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where)
    )


def id_column(prefix: str) -> Mapped[str]:
    return mapped_column(String(40), primary_key=True, default=lambda: new_id(prefix))


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
