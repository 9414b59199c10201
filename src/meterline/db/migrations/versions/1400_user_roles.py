"""user_roles: users' roles, password hashes and metadata

Revision ID: 1400
Revises: 1500
Create Date: 2026-12-03 07:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1400"
down_revision: str | Sequence[str] | None = "1500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Users that predate roles made every key of their organization: they are its owners.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("roles", sa.JSON(), nullable=False, server_default=sa.text("'[\"owner\"]'"))
        )
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("metadata")
        batch_op.drop_column("password_hash")
        batch_op.drop_column("roles")
