"""the billing clock's notices: invoices reported overdue, renewals reported due

Revision ID: 2700
Revises: 2600
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2700"
down_revision: str | Sequence[str] | None = "2600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# invoicing/models.py OVERDUE_SCAN, as it was at this revision.
OVERDUE_SCAN = (
    "invoice_status = 'FINALIZED' AND overdue_notified_at IS NULL AND payment_status IN "
    "('PENDING', 'FAILED', 'PROCESSING', 'INITIATED')"
)


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("overdue_notified_at", meterline.db.base.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            "ix_invoices_overdue_scan",
            ["invoice_status", "due_date", "id"],
            unique=False,
            sqlite_where=sa.text(OVERDUE_SCAN),
            postgresql_where=sa.text(OVERDUE_SCAN),
        )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("renewal_notified_period_end", meterline.db.base.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            "ix_subscriptions_status_period_end",
            ["subscription_status", "current_period_end"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_status_period_end")
        batch_op.drop_column("renewal_notified_period_end")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_invoices_overdue_scan",
            sqlite_where=sa.text(OVERDUE_SCAN),
            postgresql_where=sa.text(OVERDUE_SCAN),
        )
        batch_op.drop_column("overdue_notified_at")
