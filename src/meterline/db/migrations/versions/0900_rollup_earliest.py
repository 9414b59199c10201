"""rollups: the earliest event of each bucket (the EARLIEST aggregation's fold part)

Revision ID: 0900
Revises: 0820
Create Date: 2026-12-02 06:00:00

The columns stay NULL on existing rows: only an EARLIEST meter reads them, and none
predates this revision (a meter's aggregation never changes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "0900"
down_revision: str | Sequence[str] | None = "0820"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_hourly", "usage_daily")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("earliest_ts", sa.BigInteger(), nullable=True))
            batch_op.add_column(
                sa.Column(
                    "earliest_value",
                    meterline.db.base.Money(precision=38, scale=12),
                    nullable=True,
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("earliest_value")
            batch_op.drop_column("earliest_ts")
