"""Usage windows over instants stored as integer microseconds (``kernel.instants``).

The window arithmetic is the calendar's (``kernel.calendar``); this module converts the
storage encoding of the usage queries and the stores to it and back, and caches the
anchored month boundaries a query asks for once per raw event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from meterline.kernel.calendar import (
    WINDOW_SIZE_SET,
    local_time,
    period_boundary,
    unit_start_wall,
)
from meterline.kernel.instants import from_micros, to_micros


def window_start(micros: int, window: str, tz: ZoneInfo, anchor: datetime | None = None) -> int:
    """The start (µs, UTC) of the usage window of size ``window`` holding ``micros`` in
    ``tz``: its natural start, or for ``MONTH`` with a billing ``anchor`` the anchored
    month (the billing period of a monthly subscription with that anchor)."""
    if anchor is not None and window == "MONTH":
        return _anchored_month_start(micros, tz, anchor)
    if window not in WINDOW_SIZE_SET:
        raise ValueError(f"unknown window size {window}")
    local = from_micros(micros).astimezone(tz)
    # Re-attach the zone so a DST change inside the day gives the right UTC instant.
    return to_micros(unit_start_wall(local, window).replace(tzinfo=tz))


def _anchored_month_start(micros: int, tz: ZoneInfo, anchor: datetime) -> int:
    """``period_containing(anchor, "MONTH", 1, at, tz).start`` in µs, its boundaries cached:
    a query asks it once per raw event, and its events share a few boundaries."""
    local = from_micros(micros).astimezone(tz)
    index = local.year * 12 + local.month - _anchor_month(anchor, tz) + 1
    while _month_boundary(anchor, tz, index) <= micros:
        index += 1
    while (start := _month_boundary(anchor, tz, index - 1)) > micros:
        index -= 1
    return start


@lru_cache(maxsize=256)
def _anchor_month(anchor: datetime, tz: ZoneInfo) -> int:
    local = local_time(anchor, tz)
    return local.year * 12 + local.month


@lru_cache(maxsize=4096)
def _month_boundary(anchor: datetime, tz: ZoneInfo, index: int) -> int:
    return to_micros(period_boundary(anchor, "MONTH", 1, index, tz))


def hour_aligned(tz: ZoneInfo, instants: Iterable[int]) -> bool:
    """Whether the zone's offset is a whole number of hours at each of these instants."""
    for micros in instants:
        offset = from_micros(micros).astimezone(tz).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            return False
    return True


def utc_offset_zero(tz: ZoneInfo, instants: Iterable[int]) -> bool:
    """Whether the zone is at UTC+0 at each of these instants (UTC days are its days)."""
    for micros in instants:
        offset = from_micros(micros).astimezone(tz).utcoffset()
        if offset is not None and offset.total_seconds():
            return False
    return True
