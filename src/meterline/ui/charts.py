"""Server-side SVG charts: pure functions from numbers to markup data (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from meterline.kernel.money import MONEY_CONTEXT

WIDTH = 640
HEIGHT = 160
PAD_LEFT = 48
PAD_BOTTOM = 22


@dataclass(frozen=True)
class Bar:
    day: date
    value: Decimal
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class DailyChart:
    bars: list[Bar]
    total: Decimal
    peak: Decimal
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - PAD_BOTTOM
    left: float = PAD_LEFT


def number(value: Decimal | int) -> str:
    """``1234.500`` → ``1,234.5``: how the dashboard writes quantities."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize(MONEY_CONTEXT):,f}"


def daily_chart(days: Sequence[tuple[date, Decimal]]) -> DailyChart:
    """One bar per day, scaled to the largest day."""
    peak = max((v for _, v in days), default=Decimal(0))
    plot_height = HEIGHT - PAD_BOTTOM - 8
    # Room for the peak's label left of the bars (about 7 units a character).
    left = max(PAD_LEFT, 12 + 7 * len(number(peak)))
    slot = (WIDTH - left) / max(1, len(days))
    bars = []
    for index, (day, value) in enumerate(days):
        height = float(value / peak) * plot_height if peak > 0 else 0.0
        bars.append(
            Bar(
                day=day,
                value=value,
                x=left + index * slot + slot * 0.15,
                y=HEIGHT - PAD_BOTTOM - height,
                width=slot * 0.7,
                height=height,
            )
        )
    total = sum((v for _, v in days), Decimal(0))
    return DailyChart(bars=bars, total=total, peak=peak, left=left)


def progress_percent(usage: Decimal, limit: Decimal | None) -> int:
    """How far ``usage`` is towards ``limit``, 0–100 (capped) for a progress bar."""
    if limit is None or limit <= 0:
        return 0 if limit is None else 100
    return int(min(Decimal(100), usage * 100 / limit))
