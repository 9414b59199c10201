"""The windows a schedule exports (exports/schedules.py), golden cases without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterline.exports.schedules import MAX_CATCH_UP, due_windows, window_floor

HOUR = timedelta(hours=1)
T = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        # Created 10:20: its first window is 10:00–11:00, due once 11:00 has passed.
        (None, T, []),
        (None, datetime(2026, 3, 10, 11, 0, tzinfo=UTC), ["10:00"]),
        (None, datetime(2026, 3, 10, 12, 59, tzinfo=UTC), ["10:00", "11:00"]),
        # After the 11:00 window, the next is 12:00.
        (
            datetime(2026, 3, 10, 11, 0, tzinfo=UTC),
            datetime(2026, 3, 10, 13, 5, tzinfo=UTC),
            ["12:00"],
        ),
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), datetime(2026, 3, 10, 13, 5, tzinfo=UTC), []),
    ],
)
def test_due_windows(last: datetime | None, now: datetime, expected: list[str]) -> None:
    assert [w.strftime("%H:%M") for w in due_windows(T, last, HOUR, now)] == expected


def test_a_long_outage_is_caught_up_a_bounded_number_at_a_time() -> None:
    later = T + timedelta(days=30)
    first = due_windows(T, None, HOUR, later)
    assert len(first) == MAX_CATCH_UP and first[0] == window_floor(T, HOUR)
    second = due_windows(T, first[-1], HOUR, later)
    assert second[0] == first[-1] + HOUR


def test_windows_align_on_utc_multiples() -> None:
    assert window_floor(T, timedelta(minutes=15)) == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)
    assert window_floor(T, timedelta(days=1)) == datetime(2026, 3, 10, tzinfo=UTC)
