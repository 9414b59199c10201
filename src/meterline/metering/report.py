"""The customer usage report: a customer's daily usage of each metered feature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog.models import Feature, Meter
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import (
    InstantOutOfRange,
    from_micros,
    parse_instant,
    to_micros,
    to_utc,
)
from meterline.metering.backend import usage_reader
from meterline.metering.query import UsageQuery
from meterline.metering.service import meter_spec

MAX_RANGE_DAYS = 366
DATE_FORM = "an ISO-8601 date or date-time"


@dataclass(frozen=True)
class ReportRow:
    period: str
    metric: str
    value: int


@dataclass(frozen=True)
class UsageReport:
    start_date: str
    end_date: str
    rows: list[ReportRow]
    totals: dict[str, int]


def whole(value: Decimal) -> int:
    """Integers on the wire: half away from zero (the report only, never billing)."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _bound(text: str | None, field: str, *, end: bool) -> tuple[datetime | None, bool]:
    """A date (whole day, inclusive) or a date-time; returns (instant, was_a_date)."""
    if text is None or text == "":
        return None, False
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = to_utc(datetime.combine(day, time(0)))
            return (moment + timedelta(days=1) if end else moment), True
        return parse_instant(text), False
    except ValueError as exc:
        message = str(exc) if isinstance(exc, InstantOutOfRange) else f"must be {DATE_FORM}"
        raise InvalidRequest(
            f"{field} {message}", details={"code": "invalid_date", field: text}
        ) from exc


def build_report(
    session: Session,
    principal: Principal,
    external_customer_id: str,
    start_text: str | None,
    end_text: str | None,
    metric: str | None,
    today: date | None = None,
) -> UsageReport:
    end, _end_is_date = _bound(end_text, "endDate", end=True)
    start, _start_is_date = _bound(start_text, "startDate", end=False)
    if end is None:
        today = today or datetime.now(UTC).date()
        end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=UTC)
    elif not _end_is_date:
        end = end + timedelta(microseconds=1)  # the bound is inclusive
    if start is None:
        start = end - timedelta(days=31)
    if start >= end:
        raise InvalidRequest(
            "startDate is after endDate",
            details={"code": "invalid_date_range", "startDate": start_text, "endDate": end_text},
        )
    if end - start > timedelta(days=MAX_RANGE_DAYS + 1):
        raise InvalidRequest(
            f"the range may span at most {MAX_RANGE_DAYS} days",
            details={"code": "invalid_date_range", "startDate": start_text, "endDate": end_text},
        )
    features = session.execute(
        select(Feature, Meter)
        .join(Meter, Meter.id == Feature.meter_id)
        .where(
            Feature.environment_id == principal.environment_id,
            Feature.status == "published",
            Feature.type == "metered",
        )
        .order_by(Feature.name, Feature.id)
    ).all()
    if metric:
        wanted = metric.lower()
        features = [
            row for row in features if wanted in (row[0].name.lower(), row[0].lookup_key.lower())
        ]
        if not features:
            raise InvalidRequest(
                f"unknown metric {metric}", details={"code": "unknown_metric", "metric": metric}
            )
    reader = usage_reader(session)
    conn = session.connection()
    rows: list[ReportRow] = []
    totals: dict[str, int] = {}
    for feature, meter in features:
        result = reader.query(
            conn,
            UsageQuery(
                meter=meter_spec(meter),
                start=to_micros(start),
                end=to_micros(end),
                customer=external_customer_id,
                window="DAY",
            ),
        )
        for window in result.windows:
            rows.append(
                ReportRow(
                    from_micros(window.start).date().isoformat(), feature.name, whole(window.value)
                )
            )
        totals[feature.name] = whole(result.value)
    rows.sort(key=lambda r: (r.period, r.metric))
    last_day = (end - timedelta(microseconds=1)).date()
    return UsageReport(start.date().isoformat(), last_day.isoformat(), rows, totals)
