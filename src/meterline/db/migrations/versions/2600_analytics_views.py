"""analytics_views: saved analytics views (a named report question)

Revision ID: 2600
Revises: 2500
Create Date: 2026-12-04 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2600"
down_revision: str | Sequence[str] | None = "2500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_views",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("family", sa.String(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_analytics_views_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_views")),
    )
    with op.batch_alter_table("analytics_views", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_views_env_family_created",
            ["environment_id", "family", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_views", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_views_env_family_created")

    op.drop_table("analytics_views")
