"""Cheap checks of a request's raw bytes, before any parser or route sees them.

Each answers the reason a request is refused (a sentence naming the offending part), or
None. They cost a few C-speed scans of the buffer (``in``, ``translate``, ``replace``) and
look closer only when a scan finds the byte pattern they are about, so the hot paths pay
microseconds for a clean body:

* **NUL**: PostgreSQL cannot store U+0000 in a text value and SQLite truncates at it; no
  name, identifier or property of this API has a use for it. Refused as a raw byte and as
  the JSON escape ``\\u0000``.
* **Lone surrogates**: a JSON ``\\ud800``-``\\udfff`` escape that is not half of a valid
  high+low pair decodes to a string no database and no UTF-8 encoder accepts.
* **Nesting depth**: JSON nested deeper than ``max_depth`` levels (a recursive parser
  given 100,000 levels overflows its stack).
* **URLs**: a path or query string whose percent-escapes are not UTF-8 (``%ED%A0%80`` is
  a surrogate encoded as UTF-8, which UTF-8 forbids) or carry NUL.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

NUL_MESSAGE = "Text may not contain the NUL character (U+0000)"
SURROGATE_MESSAGE = (
    "Request body contains a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair)"
)

# An escape \uD800-\uDFFF that is an escape (preceded by an even run of backslashes).
_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD]([0-9a-fA-F])[0-9a-fA-F]{2}")
_LOW_SURROGATE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
# Nesting: keep quotes and brackets only, with every opening bracket as "[" and every
# closing one as "]" (the depth is all that matters here, not which bracket closes which).
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def has_nul_escape(data: bytes) -> bool:
    """Whether ``data`` (JSON text) holds a ``\\u0000`` escape that is not itself escaped."""
    start = data.find(b"\\u0000")
    while start != -1:
        backslashes = 0
        index = start - 1
        while index >= 0 and data[index] == 0x5C:  # "\\"
            backslashes += 1
            index -= 1
        if backslashes % 2 == 0:
            return True
        start = data.find(b"\\u0000", start + 1)
    return False


def has_lone_surrogate(data: bytes) -> bool:
    """Whether ``data`` (JSON text) holds a surrogate escape that is not a high (D800-DBFF)
    immediately followed by a low (DC00-DFFF) escape."""
    paired_low = -1  # where the low half of the last valid pair starts
    for match in _SURROGATE.finditer(data):
        escape = match.end() - 6
        if escape == paired_low:
            continue
        if match.group(1) in b"89abAB" and _LOW_SURROGATE.match(data, match.end()):
            paired_low = match.end()
            continue
        return True
    return False


def deeper_than(data: bytes, max_depth: int) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects deeper than ``max_depth``.

    Exact for valid JSON, and never below the depth a parser would reach in an invalid
    document before it fails. String contents do not count: escapes are dropped first, so
    every remaining quote opens or closes a string.
    """
    if len(data) <= max_depth:
        return False  # fewer bytes than levels: cannot be deeper
    text = data
    if b"\\" in text:
        # Pairs of backslashes first (left to right, as a parser reads them), then the
        # escaped quotes: what is left of "\\" escapes cannot end a string.
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = text.translate(_BRACKETS, _NOT_STRUCTURE)
    quotes = text.count(b'"')
    if quotes and text.count(b'""') * 2 == quotes:
        # Every run of quotes between two brackets is even: no bracket lies in a string
        # (the common case, told by two counts).
        text = text.translate(None, b'"')
    elif quotes:
        # Adjacent quotes hold no bracket between them: dropping both keeps the parity
        # of every other quote; then the even pieces lie outside strings.
        text = b"".join(text.replace(b'""', b"").split(b'"')[::2])
    if b"[" * (max_depth + 1) in text:
        return True
    # Each round removes every innermost "[]" pair: the maximal depth falls by exactly one
    # per round, and the depth at each surviving bracket stays what it was.
    rounds = 0
    while text:
        shorter = text.replace(b"[]", b"")
        if len(shorter) == len(text):
            break  # unbalanced: closings first, then openings that are never closed
        text = shorter
        rounds += 1
        if rounds > max_depth:
            return True
    opens = text.count(b"[")
    return rounds + max(0, opens - (len(text) - opens)) > max_depth


def url_problem(path: bytes, query: bytes) -> str | None:
    """Why a raw path or query string is refused (NUL, or escapes that are not UTF-8)."""
    if b"%" in path or not path.isascii():
        decoded = unquote_to_bytes(path)
        if b"\x00" in decoded:
            return NUL_MESSAGE
        if not _is_utf8(decoded):
            return "The path is not valid UTF-8 once percent-decoded"
    if b"%" in query or not query.isascii():
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            raw_name = unquote_to_bytes(name.replace(b"+", b" "))
            raw_value = unquote_to_bytes(value.replace(b"+", b" "))
            label = raw_name.decode("utf-8", "replace")
            if b"\x00" in raw_name or b"\x00" in raw_value:
                return f"Query parameter {label!r}: {NUL_MESSAGE}"
            if not (_is_utf8(raw_name) and _is_utf8(raw_value)):
                return f"Query parameter {label!r} is not valid UTF-8 once percent-decoded"
    return None


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def body_problem(body: bytes, max_depth: int) -> str | None:
    """Why a request body is refused, or None."""
    if b"\x00" in body:
        return NUL_MESSAGE
    # One memchr for the backslash first: a two-byte search is many times slower.
    if b"\\" in body and b"\\u" in body:
        if has_nul_escape(body):
            return NUL_MESSAGE
        if (b"\\ud" in body or b"\\uD" in body) and has_lone_surrogate(body):
            return SURROGATE_MESSAGE
    if deeper_than(body, max_depth):
        return f"Request body nests JSON deeper than {max_depth} levels"
    return None
