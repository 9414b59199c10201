"""Golden cases of the grant schedule (pure): which periods are due, and expiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.credits import schedule


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


SUB = schedule.SubscriptionTerms(
    start_date=at("2031-01-31"),
    end=None,
    billing_anchor=at("2031-01-31"),
    billing_period="MONTHLY",
    billing_period_count=1,
    timezone="UTC",
)


def grant(**changes: object) -> schedule.GrantTerms:
    base: dict[str, object] = {
        "cadence": "RECURRING",
        "period": "MONTHLY",
        "period_count": 1,
        "start_date": None,
        "end_date": None,
        "expiration_type": "NEVER",
        "expiration_duration": None,
        "expiration_duration_unit": None,
    }
    return schedule.GrantTerms(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("terms", "now", "after", "starts"),
    [
        # months clamp to the month's end and come back to the 31st
        (grant(), at("2031-04-29"), None, ["2031-01-31", "2031-02-28", "2031-03-31"]),
        (grant(), at("2031-04-29"), at("2031-02-28"), ["2031-03-31"]),
        (grant(), at("2031-03-31"), at("2031-03-31"), []),
        (grant(), at("2031-04-30"), at("2031-03-31"), ["2031-04-30"]),  # due at its start
        # quarterly, two months per period count
        (
            grant(period="MONTHLY", period_count=2),
            at("2031-06-01"),
            None,
            ["2031-01-31", "2031-03-31", "2031-05-31"],
        ),
        # the grant's own start is later than the subscription's
        (grant(start_date=at("2031-02-10")), at("2031-03-11"), None, ["2031-02-10", "2031-03-10"]),
        # the end stops it (exclusive), the subscription's end too
        (grant(end_date=at("2031-02-28")), at("2031-12-01"), None, ["2031-01-31"]),
        (grant(cadence="ONETIME", period=None), at("2031-12-01"), None, ["2031-01-31"]),
        (grant(cadence="ONETIME", period=None), at("2031-12-01"), at("2031-01-31"), []),
        (
            grant(cadence="ONETIME", period=None, start_date=at("2032-01-01")),
            at("2031-12-01"),
            None,
            [],
        ),
        (
            grant(period="DAILY"),
            at("2031-02-02T12:00:00"),
            at("2031-01-31"),
            ["2031-02-01", "2031-02-02"],
        ),
    ],
)
def test_due_periods(
    terms: schedule.GrantTerms, now: datetime, after: datetime | None, starts: list[str]
) -> None:
    due = schedule.due_periods(terms, SUB, now, after=after)
    assert [p.start for p in due] == [at(s) for s in starts]


def test_catching_up_is_bounded_per_run() -> None:
    daily = grant(period="DAILY")
    due = schedule.due_periods(daily, SUB, at("2033-01-01"))
    assert len(due) == schedule.MAX_PERIODS
    rest = schedule.due_periods(daily, SUB, at("2033-01-01"), after=due[-1].start)
    assert rest[0].start == at("2032-03-06") and len(rest) == 702 - schedule.MAX_PERIODS


@pytest.mark.parametrize(
    ("terms", "start", "expected"),
    [
        (grant(), at("2031-02-28"), None),
        (
            grant(
                expiration_type="DURATION", expiration_duration=10, expiration_duration_unit="DAY"
            ),
            at("2031-02-28"),
            at("2031-03-10"),
        ),
        (
            grant(
                expiration_type="DURATION", expiration_duration=1, expiration_duration_unit="MONTH"
            ),
            at("2031-01-31"),
            at("2031-02-28"),
        ),
        (
            grant(
                expiration_type="DURATION", expiration_duration=2, expiration_duration_unit="WEEK"
            ),
            at("2031-01-31"),
            at("2031-02-14"),
        ),
        (
            grant(
                expiration_type="DURATION", expiration_duration=1, expiration_duration_unit="YEAR"
            ),
            at("2031-01-31"),
            at("2032-01-31"),
        ),
        # the subscription's billing period that contains the start
        (grant(expiration_type="BILLING_CYCLE"), at("2031-03-05"), at("2031-03-31")),
        (grant(expiration_type="BILLING_CYCLE"), at("2031-02-28"), at("2031-03-31")),
    ],
)
def test_expiry(terms: schedule.GrantTerms, start: datetime, expected: datetime | None) -> None:
    assert schedule.expiry(terms, SUB, start) == expected


@settings(max_examples=60, deadline=None)
@given(
    period=st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL"]),
    count=st.integers(1, 3),
    anchor_day=st.integers(0, 400),
    after_days=st.integers(0, 900),
    timezone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
)
def test_resuming_after_a_period_equals_filtering_them_all(
    period: str, count: int, anchor_day: int, after_days: int, timezone: str
) -> None:
    """The bisection that resumes after the last applied period (oracle: the full walk)."""
    first = at("2030-01-31") + timedelta(days=anchor_day, hours=5)
    sub = schedule.SubscriptionTerms(
        start_date=first,
        end=None,
        billing_anchor=first,
        billing_period="MONTHLY",
        billing_period_count=1,
        timezone=timezone,
    )
    terms = grant(period=period, period_count=count)
    now = first + timedelta(days=1000)
    every = schedule.due_periods(terms, sub, now, limit=10_000)
    after = every[min(after_days, len(every) - 1)].start
    resumed = schedule.due_periods(terms, sub, now, after=after, limit=10_000)
    assert resumed == [p for p in every if p.start > after]
