"""Instants on the wire: one parser and one range for every date-time Meterline accepts.

An instant is a UTC ``datetime``. Text is RFC 3339 / ISO 8601; a value without an offset
is taken as UTC. Whatever its offset, its UTC value must lie in the supported range
``[MIN_INSTANT, MAX_INSTANT)`` — 1970-01-01T00:00:00Z (inclusive) to 2200-01-01T00:00:00Z
(exclusive). The range fits every store with room to spare: event timestamps are
microseconds since the Unix epoch and ClickHouse's ``DateTime64`` ends in 2299, so billing
periods, windows and resets computed from an accepted instant (a month or year later, a
time zone away) never overflow SQLite, PostgreSQL, ClickHouse or Python's ``datetime``,
which ends at 9999-12-31. Text that is no date-time, or an instant outside the range
(including one Python cannot even convert to UTC, such as 9999-12-31T23:59:59-14:00), is
refused with a ``ValueError`` whose message says the form or the range, so a caller turns
it into a 400 naming its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

MIN_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RANGE_TEXT = "from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z"
FORM_TEXT = "an RFC 3339 date-time, e.g. 2025-01-01T00:00:00Z"


class InstantError(ValueError):
    """Text that is no date-time, or an instant outside the supported range."""


class InstantOutOfRange(InstantError):
    """A date-time whose UTC value lies outside the supported range."""


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC), or ``InstantError`` if it lies
    outside the supported range."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:  # its UTC value lies before year 1 or after year 9999
        raise InstantOutOfRange(f"must be an instant {RANGE_TEXT}") from exc
    if not MIN_INSTANT <= moment < MAX_INSTANT:
        raise InstantOutOfRange(f"must be an instant {RANGE_TEXT}")
    return moment


def parse_instant(text: str) -> datetime:
    """RFC 3339 / ISO 8601 text → a UTC instant in the supported range, or ``InstantError``."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InstantError(f"must be {FORM_TEXT}") from exc
    return to_utc(moment)


def to_micros(moment: datetime) -> int:
    """An aware ``moment`` as integer microseconds since the Unix epoch (how events and
    aggregates store instants); exact, without going through float."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Microseconds since the Unix epoch → a UTC ``datetime`` (the inverse of ``to_micros``)."""
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )


class Clock(Protocol):
    """Where a service reads "now" from: the system clock in the server, a fixed one in
    tests (``run_once(now=…)``-style arguments still win where a function takes one)."""

    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that says ``at`` until moved (tests, and replaying a past instant)."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        """Moves the clock ``delta`` forward and returns the new instant."""
        self.at = self.at + delta
        return self.at


SYSTEM_CLOCK: Clock = SystemClock()


def _from_wire(value: Any) -> Any:
    return parse_instant(value) if isinstance(value, str) else value


def _blank_is_none(value: Any) -> Any:
    # Clients of the billing API send "" for "not set"; it always meant no instant.
    return None if value == "" else value


_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "format": "date-time",
        "description": f"RFC 3339; its UTC value {RANGE_TEXT}",
    }
)

# Request fields: text parsed as above, a datetime converted to UTC, both bounded.
Instant = Annotated[datetime, BeforeValidator(_from_wire), AfterValidator(to_utc), _SCHEMA]
OptionalInstant = Annotated[Instant | None, BeforeValidator(_blank_is_none)]
# The licensing API insists on an explicit offset.
AwareInstant = Annotated[AwareDatetime, AfterValidator(to_utc), _SCHEMA]

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "RANGE_TEXT",
    "AwareInstant",
    "Instant",
    "InstantError",
    "InstantOutOfRange",
    "OptionalInstant",
    "parse_instant",
    "to_utc",
]
