"""portal: tenant profiles, password sessions, sign-in throttling, customer portal sessions

Revision ID: 1800
Revises: 1300
Create Date: 2026-12-03 15:00:08.138525
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1800"
down_revision: str | Sequence[str] | None = "1300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_sign_in_failures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sign_in_failures")),
    )
    with op.batch_alter_table("ui_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ui_sign_in_failures_address_at", ["client_address", "at"], unique=False
        )
        batch_op.create_index("ix_ui_sign_in_failures_email_at", ["email", "at"], unique=False)

    op.create_table(
        "tenant_profiles",
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("legal_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("help_email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("address_line1", sa.String(length=255), nullable=True),
        sa.Column("address_line2", sa.String(length=255), nullable=True),
        sa.Column("address_city", sa.String(length=255), nullable=True),
        sa.Column("address_state", sa.String(length=255), nullable=True),
        sa.Column("address_postal_code", sa.String(length=50), nullable=True),
        sa.Column("address_country", sa.String(length=100), nullable=True),
        sa.Column("tax_ids", sa.JSON(), nullable=False),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("invoice_footer", sa.String(length=1000), nullable=True),
        sa.Column("payment_terms", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_tenant_profiles_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_tenant_profiles")),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_portal_sessions_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_sessions")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_portal_sessions_expires_at", ["expires_at"], unique=False)

    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
        batch_op.alter_column("key_hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.create_index("ix_ui_sessions_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_ui_sessions_user_id")
        batch_op.alter_column("key_hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.drop_column("client_address")
        batch_op.drop_column("user_id")

    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_sessions_expires_at")

    op.drop_table("portal_sessions")
    op.drop_table("tenant_profiles")
    with op.batch_alter_table("ui_sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_ui_sign_in_failures_email_at")
        batch_op.drop_index("ix_ui_sign_in_failures_address_at")

    op.drop_table("ui_sign_in_failures")
