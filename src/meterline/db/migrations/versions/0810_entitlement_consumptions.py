"""entitlement consumptions: check-and-consume idempotency per (customer, feature, event_id)

Revision ID: 0810
Revises: 0800
Create Date: 2026-12-02 03:16:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "0810"
down_revision: str | Sequence[str] | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entitlement_consumptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("quantity", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_entitlement_consumptions_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_consumptions")),
    )
    with op.batch_alter_table("entitlement_consumptions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_entitlement_consumptions_key",
            ["environment_id", "customer_id", "feature_id", "event_id"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("entitlement_consumptions", schema=None) as batch_op:
        batch_op.drop_index("uq_entitlement_consumptions_key")

    op.drop_table("entitlement_consumptions")
