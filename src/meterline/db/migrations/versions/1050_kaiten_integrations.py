"""kaiten_integrations: customers' and instances' links to third-party records

Revision ID: 1050
Revises: 1020
Create Date: 2026-12-02 15:43:20.160462
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1050"
down_revision: str | Sequence[str] | None = "1040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kaiten_integrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("owner_kind", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("web_url", sa.String(length=2048), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_kaiten_integrations_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaiten_integrations")),
    )
    with op.batch_alter_table("kaiten_integrations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_kaiten_integrations_external",
            ["environment_id", "owner_kind", "name", "external_id"],
            unique=True,
        )
        batch_op.create_index(
            "uq_kaiten_integrations_owner",
            ["environment_id", "owner_kind", "owner_id", "name"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("kaiten_integrations", schema=None) as batch_op:
        batch_op.drop_index("uq_kaiten_integrations_owner")
        batch_op.drop_index("uq_kaiten_integrations_external")

    op.drop_table("kaiten_integrations")
