"""Export files as text, a row at a time: CSV (RFC 4180, a header line) and newline-
delimited JSON (one object per line). Pure: rows in, bytes out, no I/O.

A CSV cell of a text column that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is written with a leading ``'`` so that a spreadsheet opening the file
does not run it as a formula (the OWASP advice for CSV injection); numbers, instants and
ids are written as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterline.kernel.money import decimal_text

CSV = "CSV"
JSON = "JSON"  # newline-delimited: one JSON object per line
FILE_TYPES = (CSV, JSON)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024  # bytes gathered before a chunk is handed to the response


@dataclass(frozen=True)
class Layout:
    """The columns of an export, in order, and which of them hold free text."""

    columns: tuple[str, ...]
    text_columns: frozenset[str]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_cell(value: Any, text: bool) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    cell = str(value)
    if text and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def json_line(row: dict[str, Any]) -> str:
    return json.dumps({k: _plain(v) for k, v in row.items()}, separators=(",", ":")) + "\n"


def encode(rows: Iterable[dict[str, Any]], layout: Layout, file_type: str) -> Iterator[bytes]:
    """The file of ``rows`` in chunks of about :data:`CHUNK_BYTES` (memory stays bounded
    whatever the number of rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if file_type == CSV:
        writer.writerow(layout.columns)
    for row in rows:
        if file_type == CSV:
            writer.writerow(
                [csv_cell(row.get(c), c in layout.text_columns) for c in layout.columns]
            )
        else:
            buffer.write(json_line({c: row.get(c) for c in layout.columns}))
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def media_type(file_type: str) -> str:
    return "text/csv; charset=utf-8" if file_type == CSV else "application/x-ndjson"


def extension(file_type: str) -> str:
    return "csv" if file_type == CSV else "ndjson"


def read_csv(text: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header and the rows of a CSV document (a leading byte-order mark is dropped)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, [])
    return [h.strip() for h in header], reader


def header_problem(
    header: Sequence[str], known: Sequence[str], required: Sequence[str]
) -> str | None:
    """Why an import's header is refused, or ``None``."""
    unknown = [h for h in header if h not in known]
    if unknown:
        return f"unknown column {unknown[0]!r}; the columns are {', '.join(known)}"
    missing = [r for r in required if r not in header]
    if missing:
        return f"the column {missing[0]!r} is required"
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        return f"the column {doubled[0]!r} appears twice"
    return None
