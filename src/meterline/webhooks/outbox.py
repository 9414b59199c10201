"""The transactional outbox: :func:`record` adds a message to the caller's transaction.

A message commits with the change that caused it and rolls back with it, so neither can
exist without the other; the delivery worker picks committed messages up. When the worker
runs in this process it is woken right after the commit instead of at its next poll.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from meterline.webhooks.models import EVENT_TYPES, WebhookMessage

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


def wake_after_commit(session: Session) -> None:
    """Wakes this process's worker (if any) once ``session`` commits: it has work due."""
    if not session.info.get("webhook_outbox_listener"):
        session.info["webhook_outbox_listener"] = True
        event.listen(session, "after_commit", _poke)


def _poke(_session: Session) -> None:
    wakeup.set()
