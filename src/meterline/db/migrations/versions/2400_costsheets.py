"""costsheets: the vendor's cost sheets (their prices are prices with entity_type COSTSHEET)

Revision ID: 2400
Revises: 2000
Create Date: 2026-12-04 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2400"
down_revision: str | Sequence[str] | None = "2000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "costsheets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lookup_key", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_costsheets_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_costsheets")),
    )
    with op.batch_alter_table("costsheets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_costsheets_env_status_created",
            ["environment_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_costsheets_env_lookup_key_published",
            ["environment_id", "lookup_key"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("costsheets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_costsheets_env_lookup_key_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index("ix_costsheets_env_status_created")

    op.drop_table("costsheets")
