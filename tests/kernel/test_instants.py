"""The supported instant range and the one parser: golden cases at and across its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from meterline.kernel.instants import (
    MAX_INSTANT,
    MIN_INSTANT,
    AwareInstant,
    InstantError,
    InstantOutOfRange,
    OptionalInstant,
    from_micros,
    parse_instant,
    to_micros,
    to_utc,
)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T02:00:00+02:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),  # no offset: UTC
        ("2025-01-01", datetime(2025, 1, 1, tzinfo=UTC)),
        (" 2025-06-30T12:30:00.123456z ", datetime(2025, 6, 30, 12, 30, 0, 123456, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", MIN_INSTANT),
        ("1970-01-01T01:00:00+01:00", MIN_INSTANT),
        ("2199-12-31T23:59:59.999999Z", MAX_INSTANT - timedelta(microseconds=1)),
        ("2200-01-01T13:59:59+14:00", MAX_INSTANT - timedelta(seconds=1)),
    ],
)
def test_accepted(text: str, instant: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == instant
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-14:00",  # past year 9999 in UTC: astimezone overflows
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",  # the upper bound is exclusive
        "2199-12-31T23:00:00-01:00",
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:59:59+01:00",
    ],
)
def test_out_of_range_states_the_range(text: str) -> None:
    with pytest.raises(InstantOutOfRange, match=r"1970-01-01T00:00:00Z .*2200-01-01T00:00:00Z"):
        parse_instant(text)


@pytest.mark.parametrize("text", ["", "soon", "2025-13-01T00:00:00Z", "1e999999", "\ud800"])
def test_not_a_date_time(text: str) -> None:
    with pytest.raises(InstantError, match="RFC 3339") as caught:
        parse_instant(text)
    assert not isinstance(caught.value, InstantOutOfRange)


def test_to_utc_converts_and_bounds_datetimes() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert to_utc(datetime(2025, 1, 1, 2, tzinfo=plus_two)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert to_utc(datetime(2025, 1, 1)) == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(InstantOutOfRange):
        to_utc(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))))


@pytest.mark.parametrize(
    ("instant", "micros"),
    [
        (MIN_INSTANT, 0),
        (datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC), 1_735_689_600_000_001),
        (datetime(2025, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), 1_735_689_600_000_000),
        (MAX_INSTANT - timedelta(microseconds=1), 7_258_118_399_999_999),
    ],
)
def test_micros_are_exact_both_ways(instant: datetime, micros: int) -> None:
    assert to_micros(instant) == micros
    assert from_micros(micros) == instant
    assert from_micros(micros).tzinfo is UTC


class Body(BaseModel):
    at: OptionalInstant = None
    aware: AwareInstant | None = None


def test_the_wire_types() -> None:
    assert Body(at="").at is None  # "" has always meant "not set" on /v1
    assert Body(at="2025-01-01T01:00:00+01:00").at == datetime(2025, 1, 1, tzinfo=UTC)
    assert Body(aware="2025-01-01T01:00:00+01:00").aware == datetime(2025, 1, 1, tzinfo=UTC)
    for field, value in (
        ("at", "9999-12-31T23:59:59-14:00"),
        ("at", 10**20),  # a Unix time past year 9999
        ("aware", "0001-01-01T00:00:00+14:00"),
        ("aware", "2025-01-01T00:00:00"),  # the licensing API wants an offset
    ):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate({field: value})
        assert caught.value.errors()[0]["loc"] == (field,)


def test_the_schema_says_date_time_and_the_range() -> None:
    schema = Body.model_json_schema()["properties"]["at"]["anyOf"][0]
    assert schema["format"] == "date-time"
    assert "2200-01-01T00:00:00Z" in schema["description"]
