"""The arithmetic of reported usage: windows, folding, limits (pure, exact)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterline.licensing.usage import (
    LIFETIME,
    ZERO,
    Counter,
    Window,
    current_window,
    exceeds,
    fold,
    in_window,
    maximum_allowed,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NOW = utc(2026, 3, 18, 15, 42, 7)  # a Wednesday


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("HOUR", utc(2026, 3, 18, 15), utc(2026, 3, 18, 16)),
        ("DAY", utc(2026, 3, 18), utc(2026, 3, 19)),
        ("WEEK", utc(2026, 3, 16), utc(2026, 3, 23)),  # ISO weeks start on Monday
        ("MONTH", utc(2026, 3, 1), utc(2026, 4, 1)),
        ("YEAR", utc(2026, 1, 1), utc(2027, 1, 1)),
    ],
)
def test_calendar_windows(period: str, start: datetime, end: datetime) -> None:
    assert current_window(period, "CALENDAR", NOW, utc(2025, 7, 9)) == Window(start, end)


def test_december_rolls_into_the_next_year() -> None:
    assert current_window("MONTH", "CALENDAR", utc(2026, 12, 31, 23), None) == Window(
        utc(2026, 12, 1), utc(2027, 1, 1)
    )


@pytest.mark.parametrize(
    ("period", "license_start", "now", "start", "end"),
    [
        ("HOUR", utc(2026, 1, 1, 0, 30), NOW, utc(2026, 3, 18, 15, 30), utc(2026, 3, 18, 16, 30)),
        ("DAY", utc(2026, 1, 1, 18), NOW, utc(2026, 3, 17, 18), utc(2026, 3, 18, 18)),
        ("WEEK", utc(2026, 1, 1), NOW, utc(2026, 3, 12), utc(2026, 3, 19)),  # Thursdays
        ("MONTH", utc(2026, 1, 20), NOW, utc(2026, 2, 20), utc(2026, 3, 20)),
        ("MONTH", utc(2026, 1, 10), NOW, utc(2026, 3, 10), utc(2026, 4, 10)),
        # Day 31 clamps to each month's last day and comes back to 31.
        ("MONTH", utc(2026, 1, 31), utc(2026, 2, 28, 1), utc(2026, 2, 28), utc(2026, 3, 31)),
        ("MONTH", utc(2026, 1, 31), utc(2026, 4, 30, 12), utc(2026, 4, 30), utc(2026, 5, 31)),
        ("YEAR", utc(2024, 2, 29), utc(2025, 6, 1), utc(2025, 2, 28), utc(2026, 2, 28)),
        ("YEAR", utc(2024, 2, 29), utc(2028, 3, 1), utc(2028, 2, 29), utc(2029, 2, 28)),
        # Before the license starts, windows extend backwards from the anchor.
        ("DAY", utc(2026, 4, 1, 6), NOW, utc(2026, 3, 18, 6), utc(2026, 3, 19, 6)),
        ("MONTH", utc(2026, 5, 15), NOW, utc(2026, 3, 15), utc(2026, 4, 15)),
    ],
)
def test_license_start_windows(
    period: str, license_start: datetime, now: datetime, start: datetime, end: datetime
) -> None:
    assert current_window(period, "LICENSE_START", now, license_start) == Window(start, end)


def test_no_reset_period_is_a_lifetime_counter() -> None:
    assert current_window(None, None, NOW, None) is LIFETIME


def test_a_counter_of_another_window_reads_as_zero() -> None:
    window = Window(utc(2026, 3, 1), utc(2026, 4, 1))
    stored = Counter(Decimal(7), 3)
    assert in_window(stored, utc(2026, 3, 1), window) == stored
    assert in_window(stored, utc(2026, 2, 1), window) == ZERO
    assert in_window(stored, None, window) == ZERO
    assert in_window(stored, None, LIFETIME) == stored


OLD = Counter(Decimal(10), 4)


@pytest.mark.parametrize(
    ("method", "reported", "expected"),
    [
        ("SUM", "2.5", Counter(Decimal("12.5"), 5)),
        (None, "2.5", Counter(Decimal("12.5"), 5)),  # SUM is the default
        ("COUNT", "99", Counter(Decimal(11), 5)),  # the reported value is ignored
        ("AVERAGE", "15", Counter(Decimal(11), 5)),  # (10·4 + 15) / 5
        ("AVERAGE", "0", Counter(Decimal(8), 5)),
        ("MAX", "3", Counter(Decimal(10), 5)),
        ("MAX", "30", Counter(Decimal(30), 5)),
        ("MIN", "3", Counter(Decimal(3), 5)),
        ("LATEST", "3", Counter(Decimal(3), 5)),
    ],
)
def test_append_folds_by_the_aggregation_method(
    method: str | None, reported: str, expected: Counter
) -> None:
    assert fold(method, "append", OLD, Decimal(reported)) == expected


def test_average_is_rounded_to_twelve_places() -> None:
    assert fold("AVERAGE", "append", Counter(Decimal(1), 2), Decimal(0)) == Counter(
        Decimal("0.666666666667"), 3
    )


def test_min_starts_from_zero_and_set_overwrites() -> None:
    assert fold("MIN", "append", ZERO, Decimal(5)) == Counter(Decimal(0), 1)
    assert fold("SUM", "set", OLD, Decimal(2)) == Counter(Decimal(2), 1)


@pytest.mark.parametrize(
    ("value", "limit", "percent", "refused"),
    [
        ("5", "5", "0", False),  # reaching a hard limit is allowed
        ("6", "5", "0", True),
        ("6", "5", "20", False),  # 5 · 1.2
        ("7", "5", "20", True),
        ("10", "3", "250", False),  # 3 · 3.5 = 10.5
        ("11", "3", "250", True),
        ("1000000", None, None, False),  # unlimited
    ],
)
def test_limits(value: str, limit: str | None, percent: str | None, refused: bool) -> None:
    assert exceeds(Decimal(value), _dec(limit), _dec(percent)) is refused


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def test_maximum_allowed() -> None:
    assert maximum_allowed(Decimal(5), Decimal(20)) == Decimal(6)
    assert maximum_allowed(None, None) is None
