"""subscription_pauses: the pauses of subscriptions

Revision ID: 1100
Revises: 1200
Create Date: 2026-12-03 07:55:22.022165
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1100"
down_revision: str | Sequence[str] | None = "1200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription_pauses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("pause_status", sa.String(length=20), nullable=False),
        sa.Column("pause_mode", sa.String(length=20), nullable=False),
        sa.Column("resume_mode", sa.String(length=20), nullable=True),
        sa.Column("pause_start", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("pause_end", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("resumed_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("original_period_start", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("original_period_end", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_subscription_pauses_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_pauses_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_pauses")),
    )
    with op.batch_alter_table("subscription_pauses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_pauses_subscription", ["subscription_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription_pauses", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_pauses_subscription")

    op.drop_table("subscription_pauses")
