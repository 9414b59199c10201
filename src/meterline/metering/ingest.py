"""Parsing and validating ingested events: wire JSON → rows ready for the store.

The hot path uses msgspec: one pass from bytes to typed structs, numbers with a fraction
decoded straight to ``Decimal`` (never through float).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from ulid import ULID

from meterline.kernel.errors import FieldProblem
from meterline.kernel.instants import InstantError, parse_instant, to_micros

MAX_ID_LENGTH = 255
MAX_CUSTOMER_ID_LENGTH = 40
MAX_PROPERTIES_DEPTH = 8


class IngestEvent(msgspec.Struct, forbid_unknown_fields=False):
    event_name: str
    external_customer_id: str
    event_id: str | None = None
    customer_id: str | None = None
    timestamp: str | None = None
    source: str | None = None
    # Kept raw: stored as sent (no re-encoding), decoded once for validation and meters.
    properties: msgspec.Raw = msgspec.Raw(b"null")


class IngestBatch(msgspec.Struct, forbid_unknown_fields=False):
    events: list[IngestEvent]


_single_decoder = msgspec.json.Decoder(IngestEvent, float_hook=Decimal)
_batch_decoder = msgspec.json.Decoder(IngestBatch, float_hook=Decimal)
_properties_decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)
_Body = TypeVar("_Body", IngestEvent, IngestBatch)


@dataclass(slots=True)
class EventRow:
    """One validated event as the store keeps it."""

    environment_id: str
    event_id: str
    event_name: str
    external_customer_id: str
    customer_id: str | None
    timestamp: int  # µs since epoch, UTC
    source: str | None
    properties: dict[str, Any]
    properties_json: str


class InvalidEvents(Exception):
    """The request's events cannot be accepted; nothing of it is stored."""

    def __init__(self, problems: list[FieldProblem], *, malformed: bool = False) -> None:
        super().__init__("invalid events")
        self.problems = problems
        self.malformed = malformed


def _msgspec_location(message: str, prefix: str) -> tuple[str, str]:
    # msgspec says e.g. "Expected `str`, got `int` - at `$.events[3].event_name`"
    text, sep, path = message.rpartition(" - at `")
    if not sep:
        return prefix.rstrip("."), message
    path = path.rstrip("`")
    location = prefix + path.removeprefix("$").lstrip(".")
    return location.rstrip("."), text


def _depth(value: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        if not isinstance(item, dict | list):
            continue  # a scalar adds no level: depth counts nested objects and arrays
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _validate(
    raw: IngestEvent, where: str, environment_id: str, now_micros: int, max_properties_bytes: int
) -> tuple[EventRow | None, list[FieldProblem]]:
    problems: list[FieldProblem] = []
    name = raw.event_name.strip()
    if not name:
        problems.append(FieldProblem(f"{where}event_name", "event_name is required"))
    elif len(name) > MAX_ID_LENGTH:
        problems.append(FieldProblem(f"{where}event_name", "event_name is longer than 255"))
    customer = raw.external_customer_id.strip()
    if not customer:
        problems.append(
            FieldProblem(f"{where}external_customer_id", "external_customer_id is required")
        )
    elif len(customer) > MAX_ID_LENGTH:
        problems.append(
            FieldProblem(f"{where}external_customer_id", "external_customer_id is longer than 255")
        )
    event_id = raw.event_id.strip() if raw.event_id is not None else ""
    if len(event_id) > MAX_ID_LENGTH:
        problems.append(FieldProblem(f"{where}event_id", "event_id is longer than 255"))
    if not event_id:
        event_id = f"event_{ULID()}"
    if raw.source is not None and len(raw.source) > MAX_ID_LENGTH:
        problems.append(FieldProblem(f"{where}source", "source is longer than 255"))
    # customer_id is a Meterline id (the events column holds 40 characters; a longer one
    # was a 500 on PostgreSQL).
    if raw.customer_id is not None and len(raw.customer_id) > MAX_CUSTOMER_ID_LENGTH:
        problems.append(
            FieldProblem(
                f"{where}customer_id", f"customer_id is longer than {MAX_CUSTOMER_ID_LENGTH}"
            )
        )
    timestamp = now_micros
    if raw.timestamp is not None and raw.timestamp.strip():
        try:
            timestamp = to_micros(parse_instant(raw.timestamp))
        except InstantError as exc:
            problems.append(FieldProblem(f"{where}timestamp", f"timestamp {exc}", raw.timestamp))
    properties: dict[str, Any] = {}
    properties_json = "{}"
    data = bytes(raw.properties)
    if data and data != b"null":
        if len(data) > max_properties_bytes:
            problems.append(
                FieldProblem(
                    f"{where}properties", f"properties are larger than {max_properties_bytes} bytes"
                )
            )
        else:
            try:
                properties = _properties_decoder.decode(data)
            except RecursionError:
                problems.append(
                    FieldProblem(
                        f"{where}properties", f"properties nest deeper than {MAX_PROPERTIES_DEPTH}"
                    )
                )
            except msgspec.ValidationError:
                problems.append(FieldProblem(f"{where}properties", "properties must be an object"))
            else:
                # Only a body with a second bracket can nest; most events have none.
                nested = data.count(b"{") > 1 or b"[" in data
                if nested and _depth(properties, MAX_PROPERTIES_DEPTH) > MAX_PROPERTIES_DEPTH:
                    problems.append(
                        FieldProblem(
                            f"{where}properties",
                            f"properties nest deeper than {MAX_PROPERTIES_DEPTH}",
                        )
                    )
                properties_json = data.decode()
    if problems:
        return None, problems
    row = EventRow(
        environment_id=environment_id,
        event_id=event_id,
        event_name=name,
        external_customer_id=customer,
        customer_id=raw.customer_id,
        timestamp=timestamp,
        source=raw.source,
        properties=properties,
        properties_json=properties_json,
    )
    return row, []


def first_of_each(rows: Sequence[EventRow]) -> list[int]:
    """The indexes of the rows whose ``(environment, event_id)`` no earlier row has: of a
    batch's rows with one id, the first wins."""
    seen: set[tuple[str, str]] = set()
    first: list[int] = []
    for index, row in enumerate(rows):
        key = (row.environment_id, row.event_id)
        if key not in seen:
            seen.add(key)
            first.append(index)
    return first


def now_micros() -> int:
    return to_micros(datetime.now(UTC))


def _decoded(decoder: msgspec.json.Decoder[_Body], body: bytes) -> _Body:
    """The body as ``decoder`` reads it; one it cannot read is refused naming where."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        location, message = _msgspec_location(str(exc), "body.")
        raise InvalidEvents([FieldProblem(location, message)]) from exc
    except msgspec.DecodeError as exc:
        raise InvalidEvents([FieldProblem("body", str(exc))], malformed=True) from exc
    except RecursionError as exc:  # JSON nested thousands deep: refused, not a 500
        raise InvalidEvents(
            [FieldProblem("body", "JSON nests too deeply")], malformed=True
        ) from exc


def parse_single(body: bytes, environment_id: str, max_properties_bytes: int) -> EventRow:
    raw = _decoded(_single_decoder, body)
    row, problems = _validate(raw, "body.", environment_id, now_micros(), max_properties_bytes)
    if problems or row is None:
        raise InvalidEvents(problems)
    return row


def parse_batch(
    body: bytes, environment_id: str, max_events: int, max_properties_bytes: int
) -> list[EventRow]:
    batch = _decoded(_batch_decoder, body)
    if not batch.events:
        raise InvalidEvents([FieldProblem("body.events", "events must hold at least 1 event")])
    if len(batch.events) > max_events:
        raise InvalidEvents(
            [FieldProblem("body.events", f"events must hold at most {max_events} events")]
        )
    now = now_micros()
    rows: list[EventRow] = []
    problems: list[FieldProblem] = []
    for index, raw in enumerate(batch.events):
        row, found = _validate(
            raw, f"body.events[{index}].", environment_id, now, max_properties_bytes
        )
        if row is not None:
            rows.append(row)
        problems.extend(found)
        if len(problems) >= 50:
            break
    if problems:
        raise InvalidEvents(problems)
    return rows
