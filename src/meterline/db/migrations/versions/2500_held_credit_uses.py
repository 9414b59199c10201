"""held_credit_uses: which payment's held credit paid which invoice, and how much

Revision ID: 2500
Revises: 2400
Create Date: 2026-12-04 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2500"
down_revision: str | Sequence[str] | None = "2400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_credit_uses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("returned_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_held_credit_uses_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_held_credit_uses_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_credit_uses")),
        sa.UniqueConstraint("payment_id", "invoice_id", name="uq_held_credit_uses_payment_invoice"),
    )
    with op.batch_alter_table("held_credit_uses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_held_credit_uses_env_invoice", ["environment_id", "invoice_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("held_credit_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_held_credit_uses_env_invoice")
    op.drop_table("held_credit_uses")
