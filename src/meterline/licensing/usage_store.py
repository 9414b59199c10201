"""The queries of the usage hot paths: a usage read, and the report writer's batches.

Raw SQL on the driver's connection (sqlite3 or psycopg), inside a transaction SQLAlchemy
began (so the engine's events still apply: ``BEGIN IMMEDIATE`` on SQLite). A batch of
reports is a handful of statements; through SQLAlchemy, each costs several times what the
database spends on it, and on two cores that Python time is what bounds reports per second.

Values are converted by ``db/dialect.py`` (the one dialect helper) exactly as the models'
column types convert them (``Money``: canonical decimal text on SQLite, NUMERIC on
PostgreSQL; ``UTCDateTime``: naive UTC; JSON: text on SQLite), so the ORM reads what these
write and the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterline.db.dialect import SqlDialect as Dialect
from meterline.db.dialect import dialect_named
from meterline.licensing.repository import LICENSE, CounterState, UsageContext
from meterline.licensing.values import entitlement_type_of


class _Statement:
    """One SQL text in each driver's parameter style."""

    def __init__(self, text: str) -> None:
        self._texts = {name: dialect_named(name).sql(text) for name in ("sqlite", "postgresql")}

    def __call__(self, dialect: Dialect) -> str:
        return self._texts[dialect.name]


def _rows(conn: Any, statement: str, params: dict[str, Any]) -> list[Any]:
    cursor = conn.cursor()
    try:
        cursor.execute(statement, params)
        # fetchall steps the statement to its end, which ends SQLite's read snapshot.
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _execute(conn: Any, statement: str, params: dict[str, Any] | Sequence[Any]) -> None:
    cursor = conn.cursor()
    try:
        cursor.execute(statement, params)
    finally:
        cursor.close()


# One row whatever exists: each LEFT JOIN is one index lookup (instance by slug, its
# license, the published feature by slug, the license's published grant of it, the
# feature's licensing attributes, the counter), and a missing part reads as NULLs, so a
# read can say which part is missing.
_USAGE = _Statement(
    """
    SELECT i.id, i.slug, i.start_license_date, l.id, l.slug,
           f.id, f.lookup_key, f.type, f.usage_aggregation, f.usage_reset_period,
           f.usage_reset_anchor,
           g.id, g.is_enabled, g.usage_limit, g.overage_percent, g.config_value,
           fl.entitlement_type,
           c.value, c.event_count, c.window_start, c.last_behavior, c.last_metadata,
           c.last_reported_at
    FROM (SELECT 1 AS one) AS base
    LEFT JOIN instances AS i ON i.environment_id = :env AND i.slug = :instance
    LEFT JOIN licenses AS l ON l.id = i.license_id
    LEFT JOIN features AS f
           ON f.environment_id = :env AND f.lookup_key = :entitlement AND f.status = 'published'
    LEFT JOIN entitlements AS g
           ON g.environment_id = :env AND g.entity_type = :license_kind
          AND g.entity_id = l.id AND g.feature_id = f.id AND g.status = 'published'
    LEFT JOIN feature_licensing AS fl ON fl.feature_id = f.id
    LEFT JOIN usage_counters AS c ON c.instance_id = i.id AND c.feature_id = f.id
    LIMIT 1
    """
)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A usage context (each part None when missing), the type of its entitlement
    (None when the entitlement is missing) and the stored counter (None when none is)."""

    context: UsageContext
    entitlement_type: str | None
    counter: CounterState | None


def usage_row(
    conn: Any, dialect: Dialect, environment_id: str, instance_slug: str, entitlement_slug: str
) -> UsageRow:
    """Everything a usage read or report needs, in one statement (``conn``: the driver's)."""
    params = {
        "env": environment_id,
        "instance": instance_slug,
        "entitlement": entitlement_slug,
        "license_kind": LICENSE,
    }
    (row,) = _rows(conn, _USAGE(dialect), params)
    (instance_id, found_slug, license_start, license_id, license_slug) = row[0:5]
    if instance_id is None or license_id is None:
        instance_id = found_slug = license_start = license_id = license_slug = None
    feature_type = row[7]
    context = UsageContext(
        instance_id,
        found_slug,
        dialect.moment_out(license_start),
        license_id,
        license_slug,
        row[5],
        row[6],
        feature_type,
        row[8],
        row[9],
        row[10],
        row[11],
        None if row[12] is None else bool(row[12]),
        dialect.money_out(row[13]),
        dialect.money_out(row[14]),
        dialect.json_out(row[15]),
    )
    kind = None if feature_type is None else entitlement_type_of(feature_type, row[16])
    counter = None
    if row[17] is not None:
        counter = _counter(dialect, row[17:23])
    return UsageRow(context, kind, counter)


def _counter(dialect: Dialect, row: Sequence[Any]) -> CounterState:
    value = dialect.money_out(row[0])
    assert value is not None
    return CounterState(
        value,
        row[1],
        dialect.moment_out(row[2]),
        row[3],
        dialect.json_out(row[4]),
        dialect.moment_out(row[5]),
    )


_SELECT_COUNTER = _Statement(
    """
    SELECT value, event_count, window_start, last_behavior, last_metadata, last_reported_at
    FROM usage_counters WHERE instance_id = :instance_id AND feature_id = :feature_id
    """
)
_INSERT_COUNTER = _Statement(
    """
    INSERT INTO usage_counters (instance_id, feature_id, environment_id, value, event_count)
    VALUES (:instance_id, :feature_id, :environment_id, '0', 0)
    ON CONFLICT (instance_id, feature_id) DO NOTHING
    """
)


def lock_counter(
    conn: Any, dialect: Dialect, environment_id: str, instance_id: str, feature_id: str
) -> CounterState:
    """The counter row, created if missing and locked until the transaction ends: ``SELECT
    ... FOR UPDATE`` on PostgreSQL; on SQLite the write transaction (BEGIN IMMEDIATE) holds
    the database's write lock already. Lock counters in a fixed order (their keys sorted) so
    that two processes' batches never wait on each other in a cycle."""
    key = {"instance_id": instance_id, "feature_id": feature_id}
    select = _SELECT_COUNTER(dialect) + (" FOR UPDATE" if dialect.postgres else "")
    rows = _rows(conn, select, key)
    if not rows:
        _execute(conn, _INSERT_COUNTER(dialect), {**key, "environment_id": environment_id})
        rows = _rows(conn, select, key)
    return _counter(dialect, rows[0])


_HELD_TEXT = """
    SELECT amount FROM usage_holds
    WHERE instance_id = :instance_id AND feature_id = :feature_id AND expires_at > :now
"""
_HELD = _Statement(_HELD_TEXT)
_HELD_BUT = _Statement(_HELD_TEXT + " AND id <> :but")


def held_amount(
    conn: Any, dialect: Dialect, instance_id: str, feature_id: str, now: datetime, *, but: str = ""
) -> Decimal:
    """What the counter's live reservations hold at ``now`` (``but``: one hold's id left out).
    Read under the counter's lock: holds are only added, settled or released under it."""
    params = {"instance_id": instance_id, "feature_id": feature_id, "now": dialect.moment_in(now)}
    statement = _HELD(dialect)
    if but:
        statement, params["but"] = _HELD_BUT(dialect), but
    total = Decimal(0)
    for (amount,) in _rows(conn, statement, params):
        total += dialect.money_out(amount) or 0
    return total


@dataclass(frozen=True, slots=True)
class AcceptedReport:
    """What an accepted report with a transactionId answered, for a replay."""

    behavior: str
    reported_value: Decimal
    response: dict[str, Any] | None


_ACCEPTED = _Statement(
    """
    SELECT transaction_id, behavior, reported_value, response FROM usage_reports
    WHERE instance_id = :instance_id AND feature_id = :feature_id AND status = 'ACCEPTED'
      AND transaction_id = :transaction_id
    """
)


def accepted_reports(
    conn: Any,
    dialect: Dialect,
    instance_id: str,
    feature_id: str,
    transaction_ids: Collection[str],
) -> dict[str, AcceptedReport]:
    """The accepted reports of one counter that used these transaction ids."""
    out: dict[str, AcceptedReport] = {}
    for transaction_id in sorted(transaction_ids):
        params = {
            "instance_id": instance_id,
            "feature_id": feature_id,
            "transaction_id": transaction_id,
        }
        for _, behavior, reported, response in _rows(conn, _ACCEPTED(dialect), params):
            value = dialect.money_out(reported)
            assert value is not None
            out[transaction_id] = AcceptedReport(behavior, value, dialect.json_out(response))
    return out


_LEDGER_COLUMNS = (
    "id",
    "environment_id",
    "instance_id",
    "feature_id",
    "behavior",
    "reported_value",
    "status",
    "previous_value",
    "resulting_value",
    "event_count",
    "window_start",
    "transaction_id",
    "metadata",
    "response",
    "key_id",
    "created_at",
)
# Rows of one INSERT: within SQLite's limit of 32,766 parameters at 16 a row.
LEDGER_ROWS_PER_STATEMENT = 1000


@functools.lru_cache(maxsize=64)
def _insert_ledger(postgres: bool, count: int) -> str:
    mark = "%s" if postgres else "?"
    row = "(" + ", ".join([mark] * len(_LEDGER_COLUMNS)) + ")"
    return f"INSERT INTO usage_reports ({', '.join(_LEDGER_COLUMNS)}) VALUES " + ", ".join(
        [row] * count
    )


def add_reports(conn: Any, dialect: Dialect, rows: Sequence[dict[str, Any]]) -> None:
    """Ledger rows (dicts with the columns of ``usage_reports``).

    One multi-row INSERT rather than ``executemany``: the driver releases and retakes the
    GIL around every statement it steps, and with the event loop busy, retaking it can wait
    a whole switch interval, per row.
    """
    money, moment, as_json = dialect.money_in, dialect.moment_in, dialect.json_in
    for start in range(0, len(rows), LEDGER_ROWS_PER_STATEMENT):
        chunk = rows[start : start + LEDGER_ROWS_PER_STATEMENT]
        params: list[Any] = []
        for row in chunk:
            params += (
                row["id"],
                row["environment_id"],
                row["instance_id"],
                row["feature_id"],
                row["behavior"],
                money(row["reported_value"]),
                row["status"],
                money(row["previous_value"]),
                money(row["resulting_value"]),
                row["event_count"],
                moment(row["window_start"]),
                row["transaction_id"],
                as_json(row["metadata"]),
                as_json(row["response"]),
                row["key_id"],
                moment(row["created_at"]),
            )
        _execute(conn, _insert_ledger(dialect.postgres, len(chunk)), params)


_SAVE_COUNTER = _Statement(
    """
    UPDATE usage_counters
    SET value = :value, event_count = :event_count, window_start = :window_start,
        last_behavior = :last_behavior, last_metadata = :last_metadata,
        last_reported_at = :last_reported_at
    WHERE instance_id = :instance_id AND feature_id = :feature_id
    """
)


def save_counters(
    conn: Any, dialect: Dialect, states: Iterable[tuple[str, str, CounterState]]
) -> None:
    """Write back counters (instance id, feature id, state) locked by :func:`lock_counter`."""
    for instance_id, feature_id, state in states:
        _execute(
            conn,
            _SAVE_COUNTER(dialect),
            {
                "instance_id": instance_id,
                "feature_id": feature_id,
                "value": dialect.money_in(state.value),
                "event_count": state.event_count,
                "window_start": dialect.moment_in(state.window_start),
                "last_behavior": state.last_behavior,
                "last_metadata": dialect.json_in(state.last_metadata),
                "last_reported_at": dialect.moment_in(state.last_reported_at),
            },
        )
