"""Events (append-only) and the hourly usage aggregates kept at write time.

Instants are stored as integer microseconds since the Unix epoch (UTC): the same on
SQLite, PostgreSQL and ClickHouse, compact in indexes, and bucketed with integer division.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, Money

RowId = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY = the rowid


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # The dedup key: an event id is stored once per environment, whatever is re-sent.
        Index("uq_events_env_event_id", "environment_id", "event_id", unique=True),
        # Raw reads of one customer's events of one name over a time range.
        Index(
            "ix_events_env_customer_name_ts",
            "environment_id",
            "external_customer_id",
            "event_name",
            "timestamp",
        ),
    )

    seq: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(255))
    event_name: Mapped[str] = mapped_column(String(255))
    external_customer_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str | None] = mapped_column(String(40), default=None)
    timestamp: Mapped[int] = mapped_column(BigInteger)  # µs since epoch, UTC
    ingested_at: Mapped[int] = mapped_column(BigInteger)  # µs since epoch, UTC
    source: Mapped[str | None] = mapped_column(String(255), default=None)
    properties: Mapped[str] = mapped_column(Text, default="{}")  # JSON object


class _Rollup:
    """Columns of a rollup: per meter, customer and bucket, folded at write time."""

    meter_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    external_customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # µs, hour-aligned
    environment_id: Mapped[str] = mapped_column(String(40))
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_value: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    min_value: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    max_value: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    latest_ts: Mapped[int | None] = mapped_column(BigInteger, default=None)
    latest_value: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    earliest_ts: Mapped[int | None] = mapped_column(BigInteger, default=None)
    earliest_value: Mapped[Decimal | None] = mapped_column(Money(), default=None)


class UsageHourly(_Rollup, Base):
    """Per meter, customer and UTC hour: partial days and hour windows read these."""

    __tablename__ = "usage_hourly"


class UsageDaily(_Rollup, Base):
    """Per meter, customer and UTC day: whole days of a range read these (24x fewer rows)."""

    __tablename__ = "usage_daily"


Index(
    "ix_usage_hourly_env_meter_bucket",
    UsageHourly.environment_id,
    UsageHourly.meter_id,
    UsageHourly.bucket_start,
)
Index(
    "ix_usage_daily_env_meter_bucket",
    UsageDaily.environment_id,
    UsageDaily.meter_id,
    UsageDaily.bucket_start,
)
