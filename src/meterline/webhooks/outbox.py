"""The transactional outbox: :func:`record` adds a message to the caller's transaction.

A message commits with the change that caused it and rolls back with it, so neither can
exist without the other; the delivery worker picks committed messages up. When the worker
runs in this process it is woken right after the commit instead of at its next poll.

:func:`record` writes a message whether or not an endpoint wants it (the worker marks it
dispatched with no delivery). Frequent events (a wallet transaction per usage debit, a
draft invoice per billed period) ask :func:`wanted` first: with no live endpoint of the
environment subscribed to the type, they build no body and write no row.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from meterline.webhooks import repository
from meterline.webhooks.models import EVENT_TYPES, WebhookMessage, subscribes_to

# Set by the worker of this process (if any); ``record`` pokes it after a commit.
wakeup = threading.Event()


def record(
    session: Session, environment_id: str, event_type: str, payload: dict[str, Any]
) -> WebhookMessage:
    """Adds ``event_type`` with ``payload`` (JSON-ready: strings for decimals and instants)
    to the outbox, in ``session``'s transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    message = WebhookMessage(environment_id=environment_id, event_type=event_type, payload=payload)
    session.add(message)
    wake_after_commit(session)
    return message


def wanted(session: Session, environment_id: str, event_type: str) -> bool:
    """Whether an enabled endpoint of ``environment_id`` is subscribed to ``event_type``,
    so the worker would fan a message of that type out to it. Read once per environment
    and transaction (one indexed query), then answered from ``session.info``."""
    cache: dict[str, list[list[str]]] = session.info.setdefault(_WANTED_KEY, {})
    if environment_id not in cache:
        if not session.info.get(_WANTED_LISTENER_KEY):
            session.info[_WANTED_LISTENER_KEY] = True
            event.listen(session, "after_transaction_end", _forget_wanted)
        cache[environment_id] = [
            list(endpoint.event_types or [])
            for endpoint in repository.live_endpoints(session, environment_id)
            if endpoint.enabled
        ]
    return any(subscribes_to(types, event_type) for types in cache[environment_id])


_WANTED_KEY = "webhook_wanted"
_WANTED_LISTENER_KEY = "webhook_wanted_listener"


def _forget_wanted(session: Session, _transaction: object) -> None:
    # The next transaction reads the endpoints again: one may have been added meanwhile.
    session.info.pop(_WANTED_KEY, None)


def wake_after_commit(session: Session) -> None:
    """Wakes this process's worker (if any) once ``session`` commits: it has work due."""
    if not session.info.get("webhook_outbox_listener"):
        session.info["webhook_outbox_listener"] = True
        event.listen(session, "after_commit", _poke)


def _poke(_session: Session) -> None:
    wakeup.set()
