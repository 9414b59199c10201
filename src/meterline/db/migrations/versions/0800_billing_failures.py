"""billing failures: what the billing clock could not bill, retried by later runs

Revision ID: 0800
Revises: 0700
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "0800"
down_revision: str | Sequence[str] | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_failures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("failure_key", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("period_start", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("period_end", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_run_id", sa.String(length=40), nullable=False),
        sa.Column("resolved_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_billing_failures_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_failures")),
    )
    with op.batch_alter_table("billing_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billing_failures_invoice", ["invoice_id", "resolved_at"], unique=False
        )
        batch_op.create_index(
            "ix_billing_failures_subscription", ["subscription_id", "resolved_at"], unique=False
        )
        batch_op.create_index(
            "uq_billing_failures_env_key", ["environment_id", "failure_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_failures", schema=None) as batch_op:
        batch_op.drop_index("uq_billing_failures_env_key")
        batch_op.drop_index("ix_billing_failures_subscription")
        batch_op.drop_index("ix_billing_failures_invoice")

    op.drop_table("billing_failures")
