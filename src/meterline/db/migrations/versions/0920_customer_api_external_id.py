"""customers.api_external_id: the Kaiten view's externalCustomerId, apart from the billing id

Until now /api read and wrote ``external_id`` (the /v1 billing id) as ``externalCustomerId``:
a Kaiten update that left it out rewrote the billing id to the slug. Existing rows keep what
/api showed them: their ``external_id``.

Revision ID: 0920
Revises: 0910
Create Date: 2026-12-02 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0920"
down_revision: str | Sequence[str] | None = "0910"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("api_external_id", sa.String(length=255), nullable=True))
    op.execute("UPDATE customers SET api_external_id = external_id")


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("api_external_id")
