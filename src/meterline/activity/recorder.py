"""Records every change a caller makes, once, for every route: a session hook.

The write session of a request (``api/deps.py``) carries in its ``info`` a function that
answers who is acting (an :class:`Actor`, or ``None`` before the caller is known). After
each flush of such a session, :func:`_after_flush` writes one ``activity_log`` row per
mapped row created, changed or deleted, with the columns that changed (before and after),
in the same transaction: the entry commits exactly when its change does.

Not recorded (docs/exports.md): sessions without an actor (the billing clock and the other
jobs, whose runs are their own record), the raw usage data (events, usage reports and
counters, rollups), bookkeeping tables (sign-in sessions, the webhook outbox, sequences),
and changes made by bulk ``UPDATE``/``DELETE`` statements rather than through the unit of
work. Secret columns are written as ``[redacted]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, update
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from meterline.activity.models import ActivityEntry
from meterline.db.base import new_id, utcnow
from meterline.kernel.money import decimal_text

# The key of a write session's ``info`` that holds the actor function.
ACTOR_INFO = "meterline.activity.actor"
# The entries of rows created in the transaction under way: (table, id) -> (entry id, its
# ``after``). A later flush of the same transaction that changes such a row folds the
# change into its creation (one request that creates then completes a row is one entry).
CREATED_INFO = "meterline.activity.created"

SKIPPED_TABLES = frozenset(
    {
        "activity_log",
        "audit_entries",
        "catalog_version",
        "events",
        "invoice_sequences",
        "meter_rebuilds",
        "task_uploads",
        "ui_sessions",
        "usage_counters",
        "usage_daily",
        "usage_holds",
        "usage_hourly",
        "usage_reports",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_messages",
    }
)
REDACTED_COLUMNS = frozenset(
    {"key_hash", "token_hash", "password_hash", "signing_key_pem", "secret", "content"}
)
# Columns every update touches: a change to these alone is no activity.
NOISE_COLUMNS = frozenset({"updated_at", "updated_by", "version", "last_computed_at"})
MAX_TEXT = 1000  # characters of one value kept in a diff
MAX_VALUE_JSON = 4000  # characters of one JSON value kept in a diff


@dataclass(frozen=True)
class Actor:
    """Who acts, and through which surface."""

    environment_id: str
    actor_type: str  # "api_key" or "user"
    actor_id: str
    source: str  # "api" (/v1), "licensing" (/api) or "dashboard" (/ui)
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


ActorSource = Callable[[], Actor | None]


def attach(session: Session, source: ActorSource) -> None:
    """Record the changes made in ``session`` as ``source()``'s."""
    session.info[ACTOR_INFO] = source


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def wire_value(value: Any) -> Any:
    """A column value as JSON, bounded."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)[:MAX_TEXT]
    return value if len(text) <= MAX_VALUE_JSON else text[:MAX_VALUE_JSON] + "…"


def _shown(column: str, value: Any) -> Any:
    return "[redacted]" if column in REDACTED_COLUMNS and value is not None else wire_value(value)


def _columns(obj: Any) -> Iterable[tuple[str, str]]:
    """(attribute key, column name) of the mapped columns of ``obj``."""
    mapper = inspect(obj).mapper
    for attr in mapper.column_attrs:
        yield attr.key, attr.columns[0].name


def _snapshot(obj: Any) -> dict[str, Any]:
    loaded = inspect(obj).dict  # what the row holds, without loading what it does not
    return {column: _shown(column, loaded.get(key)) for key, column in _columns(obj)}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, column in _columns(obj):
        if column in NOISE_COLUMNS:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[column] = _shown(column, old)
        after[column] = _shown(column, new)
    return before, after


def _entry(obj: Any, action: str, state: dict[str, Any], actor: Actor) -> dict[str, Any]:
    table = obj.__table__.name
    identity = inspect(obj).identity
    entity_id = inspect(obj).dict.get("id")
    if entity_id is None and identity:
        entity_id = ":".join(str(part) for part in identity)
    loaded = inspect(obj).dict
    customer_id = entity_id if table == "customers" else loaded.get("customer_id")
    return {
        "id": new_id("act"),
        "environment_id": loaded.get("environment_id") or actor.environment_id,
        "occurred_at": utcnow(),
        "actor_type": actor.actor_type,
        "actor_id": actor.actor_id,
        "action": action,
        "entity_type": _snake(type(obj).__name__),
        "entity_id": None if entity_id is None else str(entity_id)[:255],
        "customer_id": customer_id if isinstance(customer_id, str) else None,
        "source": actor.source,
        "request_id": actor.request_id,
        "ip": actor.ip,
        "user_agent": actor.user_agent,
        "state": state,
    }


def _recorded(obj: Any) -> bool:
    table = getattr(obj, "__table__", None)
    return table is not None and table.name not in SKIPPED_TABLES


def _key(obj: Any) -> tuple[str, str]:
    # A row's id, not its identity key: a new row has none until the flush has ended.
    state = inspect(obj)
    return obj.__table__.name, str(state.dict.get("id", state.identity))


def entries(
    session: Session, actor: Actor
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """The activity rows of the flush under way (the session's pre-flush state), and the
    creation entries of this transaction to rewrite with a later change folded in."""
    created: dict[tuple[str, str], tuple[str, dict[str, Any]]] = session.info.setdefault(
        CREATED_INFO, {}
    )
    rows = []
    folded: list[tuple[str, dict[str, Any]]] = []
    for obj in session.new:
        if _recorded(obj):
            row = _entry(obj, "created", {"after": _snapshot(obj)}, actor)
            rows.append(row)
            created[_key(obj)] = (row["id"], row["state"]["after"])
    for obj in session.dirty:
        if not _recorded(obj) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if not after:
            continue
        earlier = created.get(_key(obj))
        if earlier is not None:
            earlier[1].update(after)
            folded.append((earlier[0], {"after": earlier[1]}))
            continue
        action = "updated"
        if after.get("status") in ("archived", "deleted") and before.get("status") == "published":
            action = str(after["status"])
        rows.append(_entry(obj, action, {"before": before, "after": after}, actor))
    for obj in session.deleted:
        if _recorded(obj):
            rows.append(_entry(obj, "deleted", {"before": _snapshot(obj)}, actor))
    return rows, folded


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    source: ActorSource | None = session.info.get(ACTOR_INFO)
    if source is None:
        return
    actor = source()
    if actor is None:
        return
    rows, folded = entries(session, actor)
    connection = session.connection()
    if rows:
        connection.execute(insert(ActivityEntry), rows)
    for entry_id, state in folded:
        connection.execute(
            update(ActivityEntry).where(ActivityEntry.id == entry_id).values(state=state)
        )


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: a savepoint keeps the creations
        session.info.pop(CREATED_INFO, None)
