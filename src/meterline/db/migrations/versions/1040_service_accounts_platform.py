"""service accounts, their tokens on api_keys, platform credentials, organizations.external_id, users.deleted_at

Revision ID: 1040
Revises: 1020
Create Date: 2026-12-02 15:44:08.998506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1040"
down_revision: str | Sequence[str] | None = "1030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("display_id", sa.String(length=40), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_credentials")),
    )
    with op.batch_alter_table("platform_credentials", schema=None) as batch_op:
        batch_op.create_index("uq_platform_credentials_key_hash", ["key_hash"], unique=True)
        batch_op.create_index("uq_platform_credentials_slug", ["slug"], unique=True)

    op.create_table(
        "service_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_service_accounts_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_accounts")),
    )
    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_service_accounts_env_slug", ["environment_id", "slug"], unique=True
        )

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_account_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("platform_credential_id", sa.String(length=40), nullable=True)
        )
        batch_op.add_column(sa.Column("slug", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=40), nullable=True))
        batch_op.create_index(
            "ix_api_keys_platform_credential", ["platform_credential_id"], unique=False
        )
        batch_op.create_index(
            "uq_api_keys_service_account_slug", ["service_account_id", "slug"], unique=True
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_service_account_id_service_accounts"),
            "service_accounts",
            ["service_account_id"],
            ["id"],
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_organizations_external_id"), ["external_id"]
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", meterline.db.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organizations_external_id"), type_="unique")
        batch_op.drop_column("external_id")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_service_account_id_service_accounts"), type_="foreignkey"
        )
        batch_op.drop_index("uq_api_keys_service_account_slug")
        batch_op.drop_index("ix_api_keys_platform_credential")
        batch_op.drop_column("created_by")
        batch_op.drop_column("slug")
        batch_op.drop_column("platform_credential_id")
        batch_op.drop_column("service_account_id")

    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        batch_op.drop_index("uq_service_accounts_env_slug")

    op.drop_table("service_accounts")
    with op.batch_alter_table("platform_credentials", schema=None) as batch_op:
        batch_op.drop_index("uq_platform_credentials_slug")
        batch_op.drop_index("uq_platform_credentials_key_hash")

    op.drop_table("platform_credentials")
