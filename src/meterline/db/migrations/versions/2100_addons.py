"""addons: add-ons, their associations with subscriptions, line items' association

Revision ID: 2100
Revises: 2300
Create Date: 2026-12-03 15:00:48.547551

An add-on's prices, entitlements and credit grants live in their own tables under
``entity_type``/``scope`` ADDON; a subscription's add-on line items name their association.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2100"
down_revision: str | Sequence[str] | None = "2300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "addons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lookup_key", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_addons_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addons")),
    )
    with op.batch_alter_table("addons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_addons_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_addons_env_lookup_key_published",
            ["environment_id", "lookup_key"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    op.create_table(
        "addon_associations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column("addon_id", sa.String(length=40), nullable=False),
        sa.Column("addon_status", sa.String(length=20), nullable=False),
        sa.Column("start_date", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("end_date", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["addon_id"], ["addons.id"], name=op.f("fk_addon_associations_addon_id_addons")
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_addon_associations_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addon_associations")),
    )
    with op.batch_alter_table("addon_associations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_addon_associations_env_addon", ["environment_id", "addon_id"], unique=False
        )
        batch_op.create_index(
            "ix_addon_associations_env_entity", ["environment_id", "entity_id"], unique=False
        )
        batch_op.create_index(
            "uq_addon_associations_active",
            ["environment_id", "entity_id", "addon_id"],
            unique=True,
            sqlite_where=sa.text("addon_status = 'active' AND status = 'published'"),
            postgresql_where=sa.text("addon_status = 'active' AND status = 'published'"),
        )

    with op.batch_alter_table("subscription_line_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addon_association_id", sa.String(length=40), nullable=True))

    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addon_id", sa.String(length=40), nullable=True))
        batch_op.create_index(
            "ix_credit_grants_env_addon", ["environment_id", "addon_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_grants_env_addon")
        batch_op.drop_column("addon_id")

    with op.batch_alter_table("subscription_line_items", schema=None) as batch_op:
        batch_op.drop_column("addon_association_id")

    with op.batch_alter_table("addon_associations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_addon_associations_active",
            sqlite_where=sa.text("addon_status = 'active' AND status = 'published'"),
            postgresql_where=sa.text("addon_status = 'active' AND status = 'published'"),
        )
        batch_op.drop_index("ix_addon_associations_env_entity")
        batch_op.drop_index("ix_addon_associations_env_addon")

    op.drop_table("addon_associations")
    with op.batch_alter_table("addons", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_addons_env_lookup_key_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_addons_environment_id"))

    op.drop_table("addons")
