"""Go duration strings (``"7776000s"``, ``"1h30m"``), as the Kaiten Platform API takes a
token's ``ttl``: parsed strictly, never guessed.

A duration is one or more ``<number><unit>`` terms, the unit one of ``ns us µs ms s m h``
and the number a decimal without sign or exponent. Go also accepts a sign and ``"0"``;
a lifetime is positive, so neither is accepted here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

_UNIT_SECONDS = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}
_TERM = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)")
MAX_TEXT = 64


def parse_go_duration(text: str, *, maximum: timedelta) -> timedelta:
    """``text`` as a positive duration of at most ``maximum``, whole microseconds.

    Raises ``ValueError`` saying what is wrong: not a Go duration, not positive, too long.
    """
    if not text or len(text) > MAX_TEXT:
        raise ValueError(f"a duration is 1 to {MAX_TEXT} characters")
    position = 0
    seconds = Decimal(0)
    while position < len(text):
        term = _TERM.match(text, position)
        if term is None:
            raise ValueError(f"{text!r} is not a Go duration such as '24h' or '7776000s'")
        try:
            seconds += Decimal(term.group(1)) * _UNIT_SECONDS[term.group(2)]
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
            raise ValueError(f"{text!r} is not a Go duration") from exc
        position = term.end()
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > Decimal(int(maximum.total_seconds())):
        raise ValueError(f"a duration is at most {int(maximum.total_seconds())}s")
    micros = int((seconds * 1_000_000).to_integral_value())
    if micros == 0:
        raise ValueError("a duration must be at least one microsecond")
    return timedelta(microseconds=micros)
