"""Ids on /api: the Kaiten contract's ids are UUIDs; Meterline's are prefixed ULIDs.

A ULID is 128 bits, so it maps to a UUID and back without loss: ``wire_id`` renders a
stored id (``cust_01M8V…``) as the UUID of its ULID, ``stored_id`` accepts either form
from a client and answers the stored id for the resource's prefix. An id that is neither
form answers None (the route's not-found), never an error that says more.
"""

from __future__ import annotations

import uuid

from ulid import ULID

from meterline.kernel.errors import NotFound


def wire_id(stored: str | None) -> str | None:
    """The UUID form of a stored ``<prefix>_<ULID>`` id (other ids unchanged)."""
    if stored is None:
        return None
    _prefix, sep, body = stored.rpartition("_")
    if not sep or len(body) != 26:
        return stored
    try:
        return str(ULID.from_str(body).to_uuid())
    except ValueError:
        return stored


def stored_id(given: str, prefix: str) -> str | None:
    """The stored id of ``prefix`` for a client's id, UUID or prefixed form; None when it
    is neither (or a prefixed id of another resource)."""
    if given.startswith(prefix + "_"):
        body = given[len(prefix) + 1 :]
        try:
            ULID.from_str(body)
        except ValueError:
            return None
        return given if len(body) == 26 else None
    try:
        parsed = uuid.UUID(given)
    except ValueError:
        return None
    if len(given) not in (32, 36):  # no braces, no urn: the two forms clients send
        return None
    return f"{prefix}_{ULID.from_uuid(parsed)}"


def id_of(given: str, prefix: str, what: str) -> str:
    """The stored id of a client's id (UUID or prefixed); 404 naming ``what`` otherwise."""
    found = stored_id(given, prefix)
    if found is None:
        raise NotFound(what, given)
    return found
