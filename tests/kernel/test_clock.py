"""The injectable clock: the system one tells the time, a fixed one tells what it is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meterline.kernel.instants import SYSTEM_CLOCK, Clock, FixedClock


def test_the_system_clock_is_aware_utc_and_moves_forward() -> None:
    before = datetime.now(UTC)
    now = SYSTEM_CLOCK.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_a_fixed_clock_stands_still_until_advanced() -> None:
    clock: Clock = FixedClock(datetime(2024, 2, 29, 23, 59, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2024, 2, 29, 23, 59, tzinfo=UTC)
    assert isinstance(clock, FixedClock)
    assert clock.advance(timedelta(minutes=2)) == datetime(2024, 3, 1, 0, 1, tzinfo=UTC)
    assert clock.now() == datetime(2024, 3, 1, 0, 1, tzinfo=UTC)
