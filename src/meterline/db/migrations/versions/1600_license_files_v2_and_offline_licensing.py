"""license files v2 and offline licensing

Revision ID: 1600
Revises: 1800
Create Date: 2026-12-03 15:01:44.697144
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1600"
down_revision: str | Sequence[str] | None = "1800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "license_signing_keys",
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("private_key_pem", sa.String(length=4000), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("active_claim", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("rotated_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("retired_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("environment_id", "kid", name=op.f("pk_license_signing_keys")),
    )
    with op.batch_alter_table("license_signing_keys", schema=None) as batch_op:
        batch_op.create_index("uq_license_signing_keys_active", ["active_claim"], unique=True)

    op.create_table(
        "license_file_issues",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=40), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("machine_id", sa.String(length=40), nullable=True),
        sa.Column("fingerprint", sa.String(length=255), nullable=True),
        sa.Column("lifetime_seconds", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("enforcement", sa.String(length=10), nullable=False),
        sa.Column("issued_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("refresh_after", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_license_file_issues_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_file_issues")),
    )
    with op.batch_alter_table("license_file_issues", schema=None) as batch_op:
        batch_op.create_index(
            "ix_license_file_issues_instance", ["instance_id", "issued_at"], unique=False
        )

    op.create_table(
        "offline_activations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=40), nullable=False),
        sa.Column("machine_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("installation_kid", sa.String(length=16), nullable=False),
        sa.Column("installation_key", sa.String(length=64), nullable=False),
        sa.Column("license_file_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_offline_activations_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_activations")),
    )
    with op.batch_alter_table("offline_activations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_offline_activations_installation",
            ["environment_id", "installation_kid"],
            unique=True,
        )
        batch_op.create_index(
            "uq_offline_activations_nonce", ["environment_id", "nonce"], unique=True
        )

    op.create_table(
        "usage_bundle_imports",
        sa.Column("activation_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("imported_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["offline_activations.id"],
            name=op.f("fk_usage_bundle_imports_activation_id_offline_activations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activation_id", "sequence", name=op.f("pk_usage_bundle_imports")),
    )


def downgrade() -> None:

    op.drop_table("usage_bundle_imports")
    with op.batch_alter_table("offline_activations", schema=None) as batch_op:
        batch_op.drop_index("uq_offline_activations_nonce")
        batch_op.drop_index("uq_offline_activations_installation")

    op.drop_table("offline_activations")
    with op.batch_alter_table("license_file_issues", schema=None) as batch_op:
        batch_op.drop_index("ix_license_file_issues_instance")

    op.drop_table("license_file_issues")
    with op.batch_alter_table("license_signing_keys", schema=None) as batch_op:
        batch_op.drop_index("uq_license_signing_keys_active")

    op.drop_table("license_signing_keys")
