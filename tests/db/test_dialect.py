"""The one SQL dialect helper: what differs between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from meterline.db.dialect import dialect_named, dialect_of, is_sqlite
from meterline.invoicing.models import InvoiceSequence


def test_parameters_and_values_per_dialect() -> None:
    lite, pg = dialect_named("sqlite"), dialect_named("postgresql")
    assert (lite.mark, pg.mark) == ("?", "%s")
    assert lite.sql("a = :env AND b::text = :x") == "a = :env AND b::text = :x"
    assert pg.sql("a = :env AND b::text = :x") == "a = %(env)s AND b::text = %(x)s"
    assert (lite.money_in(Decimal("1.500")), pg.money_in(Decimal("1.500"))) == (
        "1.5",
        Decimal("1.500"),
    )
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert lite.moment_in(moment) == "2026-03-01 12:30:00.000000"
    assert lite.moment_out(lite.moment_in(moment)) == moment
    assert pg.moment_out(pg.moment_in(moment)) == moment
    assert lite.json_out(lite.json_in({"a": [1]})) == {"a": [1]}


@pytest.mark.parametrize(("name", "locks"), [("sqlite", False), ("postgresql", True)])
def test_upserts_and_locks_are_the_dialects(name: str, locks: bool) -> None:
    dialect = dialect_named(name)
    compiled_with = postgresql.dialect() if dialect.postgres else sqlite.dialect()
    upsert = (
        dialect.insert(InvoiceSequence)
        .values(environment_id="e", period="202603", last_value=1)
        .on_conflict_do_nothing()
    )
    assert "ON CONFLICT DO NOTHING" in str(upsert.compile(dialect=compiled_with))
    query = dialect.for_update(select(InvoiceSequence), skip_locked=True)
    assert ("FOR UPDATE SKIP LOCKED" in str(query.compile(dialect=compiled_with))) is locks
    assert (dialect.advisory_lock_sql() is not None) is locks


def test_dialect_of_any_bind() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn, Session(engine) as session:
        for bind in (engine, conn, session, engine.dialect):
            assert dialect_of(bind) is dialect_named("sqlite")
            assert is_sqlite(bind)
    engine.dispose()
