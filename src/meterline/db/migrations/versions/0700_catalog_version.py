"""catalog versions: what in-memory check caches are stamped with

Revision ID: 0700
Revises: 0600
Create Date: 2026-11-25 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0700"
down_revision: str | Sequence[str] | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "catalog_version",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_catalog_version")),
    )
    # The global row; a customer's row appears when its rows first change.
    op.bulk_insert(table, [{"scope": "*", "version": 0}])


def downgrade() -> None:
    op.drop_table("catalog_version")
