"""Go durations as the Platform API's ``ttl``: golden cases, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meterline.kernel.durations import parse_go_duration

MAX = timedelta(days=3650)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7776000s", timedelta(days=90)),
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1us", timedelta(microseconds=1)),
        ("1µs", timedelta(microseconds=1)),
        ("1m1s1ms", timedelta(seconds=61, milliseconds=1)),
        (".5s", timedelta(milliseconds=500)),
        ("87600h", MAX),
    ],
)
def test_golden_durations(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text, maximum=MAX) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0s",
        "0",
        "-1s",
        "+1s",
        "1",
        "1d",
        "1h 2m",
        " 1h",
        "1H",
        "1e3s",
        "١s",
        "87600h1ns",
        "1ns",
        "s",
        "1.s",
        "9" * 65,
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text, maximum=MAX)
