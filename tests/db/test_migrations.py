"""Migrations carry existing data forward."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from meterline.db.migrate import alembic_config

HOUR = 3_600_000_000


def test_the_daily_rollup_is_backfilled_from_hourly_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0501")
    engine = create_engine(url)
    with engine.begin() as conn:
        for hour, (value, low, high) in enumerate(
            [("1.5", "1.5", "1.5"), ("2", "1", "2"), ("10", "10", "10")]
        ):
            conn.execute(
                text(
                    "INSERT INTO usage_hourly (meter_id, external_customer_id, bucket_start,"
                    " environment_id, event_count, sum_value, min_value, max_value, latest_ts,"
                    " latest_value) VALUES ('m', 'c', :b, 'env', 1, :v, :lo, :hi, :b, :v)"
                ),
                {"b": hour * 8 * HOUR, "v": value, "lo": low, "hi": high},
            )
    command.upgrade(config, "head")
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT bucket_start, event_count, sum_value, min_value, max_value, latest_value"
                " FROM usage_daily"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(0, 3, "13.5", "1", "10", "10")]
