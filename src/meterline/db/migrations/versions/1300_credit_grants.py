"""credit_grants: credit grants and their applications, wallets' auto top-up, alert settings

Revision ID: 1300
Revises: 1100
Create Date: 2026-12-03 07:31:26.386592
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1300"
down_revision: str | Sequence[str] | None = "1100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("credits", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=True),
        sa.Column("period_count", sa.Integer(), nullable=True),
        sa.Column("expiration_type", sa.String(length=20), nullable=False),
        sa.Column("expiration_duration", sa.Integer(), nullable=True),
        sa.Column("expiration_duration_unit", sa.String(length=10), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("start_date", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("end_date", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_credit_grants_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
    )
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_grants_env_plan", ["environment_id", "plan_id"], unique=False
        )
        batch_op.create_index(
            "ix_credit_grants_env_subscription", ["environment_id", "subscription_id"], unique=False
        )

    op.create_table(
        "credit_grant_applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("credit_grant_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("period_end", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("credits", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("wallet_id", sa.String(length=40), nullable=False),
        sa.Column("wallet_transaction_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_grant_id"],
            ["credit_grants.id"],
            name=op.f("fk_credit_grant_applications_credit_grant_id_credit_grants"),
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_credit_grant_applications_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grant_applications")),
    )
    with op.batch_alter_table("credit_grant_applications", schema=None) as batch_op:
        batch_op.create_index(
            "uq_credit_grant_applications_period",
            ["credit_grant_id", "subscription_id", "period_start"],
            unique=True,
        )

    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_topup", sa.JSON(), nullable=True))

    op.create_table(
        "alert_settings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column("parent_entity_type", sa.String(length=30), nullable=True),
        sa.Column("parent_entity_id", sa.String(length=255), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_alert_settings_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_settings")),
    )
    with op.batch_alter_table("alert_settings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_settings_env_entity", ["environment_id", "entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_settings", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_settings_env_entity")

    op.drop_table("alert_settings")

    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("auto_topup")

    with op.batch_alter_table("credit_grant_applications", schema=None) as batch_op:
        batch_op.drop_index("uq_credit_grant_applications_period")

    op.drop_table("credit_grant_applications")
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_grants_env_subscription")
        batch_op.drop_index("ix_credit_grants_env_plan")

    op.drop_table("credit_grants")
