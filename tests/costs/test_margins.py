"""The derived figures of cost analytics and its period, as golden cases (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from meterline.costs.analytics import Margins, margins, period
from meterline.kernel.errors import InvalidRequest


@pytest.mark.parametrize(
    ("cost", "revenue", "expected"),
    [
        ("2.2", "10", Margins(D("7.8"), D("78"), D("3.5455"), D("354.55"))),
        ("0.8", "0", Margins(D("-0.8"), None, D("-1"), D("-100"))),
        ("0", "5", Margins(D("5"), D("100"), None, None)),
        ("0", "0", Margins(D("0"), None, None, None)),
        ("3", "2", Margins(D("-1"), D("-50"), D("-0.3333"), D("-33.33"))),
    ],
)
def test_margins(cost: str, revenue: str, expected: Margins) -> None:
    assert margins(D(cost), D(revenue)) == expected


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # Whole UTC days: the first instant's day through the last instant's before end.
        ("2026-11-10T15:00", "2026-11-12T09:00", ("2026-11-10", "2026-11-13")),
        ("2026-11-10T00:00", "2026-11-12T00:00", ("2026-11-10", "2026-11-12")),
        (None, "2026-11-12T09:00", ("2026-11-05", "2026-11-13")),
    ],
)
def test_period_is_whole_utc_days(start: str | None, end: str, days: tuple[str, str]) -> None:
    now = _at("2026-12-01T00:00")
    got = period(_at(start) if start else None, _at(end), now)
    assert got == (_at(f"{days[0]}T00:00"), _at(f"{days[1]}T00:00"))


def test_period_bounds() -> None:
    now = _at("2026-12-01T00:00")
    for start, end in (
        ("2026-11-10T00:00", "2026-11-10T00:00"),
        ("2025-01-01T00:00", "2026-11-10T00:00"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            period(_at(start), _at(end), now)
        assert refused.value.field == "end_time"
