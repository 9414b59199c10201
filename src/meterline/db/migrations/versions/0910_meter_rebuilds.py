"""meter rebuilds: a meter's aggregates are rebuilt by a job, not in the request

Every existing meter gets a ``done`` row: its aggregates were rebuilt in the request that
created or changed it, and a row per meter lets a request move it on with one UPDATE.

Revision ID: 0910
Revises: 0900
Create Date: 2026-12-02 06:03:14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "0910"
down_revision: str | Sequence[str] | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meter_rebuilds",
        sa.Column("meter_id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("requested_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("started_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("lease_until", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("not_before", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_meter_rebuilds_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meter_rebuilds")),
    )
    with op.batch_alter_table("meter_rebuilds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_rebuilds_state_requested", ["state", "requested_at"], unique=False
        )
    op.execute(
        "INSERT INTO meter_rebuilds (meter_id, environment_id, state, generation, requested_at,"
        " finished_at, attempts) SELECT id, environment_id, 'done', 1, created_at, created_at, 0"
        " FROM meters"
    )


def downgrade() -> None:
    with op.batch_alter_table("meter_rebuilds", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_rebuilds_state_requested")

    op.drop_table("meter_rebuilds")
