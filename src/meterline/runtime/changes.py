"""Customers whose balances changed in a transaction, announced once it commits.

A domain write that changes what a customer's alerts watch (a wallet's ledger entry) calls
:func:`customer_changed` in its transaction; after the commit every subscriber (the alerts
job of this process) is called once with the (environment id, customer id) pairs of that
transaction. A rollback announces nothing. Subscribers must be cheap and must not raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("meterline.changes")
Listener = Callable[[frozenset[tuple[str, str]]], None]
_KEY = "changed_customers"
_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Calls ``listener`` after each commit that changed customers; returns the undo."""
    with _lock:
        _listeners.append(listener)

    def undo() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return undo


def customer_changed(session: Session, environment_id: str, customer_id: str) -> None:
    if not _listeners:
        return
    pending = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = set()
        event.listen(session, "after_commit", _announce, once=True)
        event.listen(session, "after_soft_rollback", _forget, once=True)
    pending.add((environment_id, customer_id))


def _forget(session: Session, _previous: object) -> None:
    session.info.pop(_KEY, None)


def _announce(session: Session) -> None:
    pending = session.info.pop(_KEY, None)
    if not pending:
        return
    with _lock:
        listeners = list(_listeners)
    changed = frozenset(pending)
    for listener in listeners:
        try:
            listener(changed)
        except Exception:  # an announcement missed is caught by the listener's own scan
            log.exception("a change listener failed")
