"""subscription_schedules: changes applied by the billing clock

Revision ID: 2200
Revises: 1600
Create Date: 2026-12-03 15:01:28.330603
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2200"
down_revision: str | Sequence[str] | None = "1600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription_schedules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("schedule_type", sa.String(length=20), nullable=False),
        sa.Column("schedule_status", sa.String(length=20), nullable=False),
        sa.Column("scheduled_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("executed_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("execution_result", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_subscription_schedules_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_schedules_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_schedules")),
    )
    with op.batch_alter_table("subscription_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_schedules_env_created", ["environment_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_subscription_schedules_subscription",
            ["subscription_id", "schedule_status"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_schedules_subscription")
        batch_op.drop_index("ix_subscription_schedules_env_created")

    op.drop_table("subscription_schedules")
