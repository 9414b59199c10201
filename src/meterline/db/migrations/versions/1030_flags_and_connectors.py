"""feature flags; connector definitions and each environment's activations and settings

Revision ID: 1030
Revises: 1020
Create Date: 2026-12-02 15:43:51.704984
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1030"
down_revision: str | Sequence[str] | None = "1020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_definitions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("settings_schema", sa.JSON(), nullable=False),
        sa.Column("entitlement_slug", sa.String(length=100), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_definitions")),
    )
    with op.batch_alter_table("connector_definitions", schema=None) as batch_op:
        batch_op.create_index("uq_connector_definitions_name", ["name"], unique=True)

    op.create_table(
        "connector_activations",
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("activated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connector_definitions.id"],
            name=op.f("fk_connector_activations_connector_id_connector_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_connector_activations_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint(
            "environment_id", "connector_id", name=op.f("pk_connector_activations")
        ),
    )
    op.create_table(
        "connector_settings",
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connector_definitions.id"],
            name=op.f("fk_connector_settings_connector_id_connector_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_connector_settings_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint(
            "environment_id", "connector_id", name=op.f("pk_connector_settings")
        ),
    )
    op.create_table(
        "feature_flags",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("default_variant", sa.JSON(), nullable=False),
        sa.Column("targetings", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_feature_flags_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_flags")),
    )
    with op.batch_alter_table("feature_flags", schema=None) as batch_op:
        batch_op.create_index("uq_feature_flags_env_slug", ["environment_id", "slug"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feature_flags", schema=None) as batch_op:
        batch_op.drop_index("uq_feature_flags_env_slug")

    op.drop_table("feature_flags")
    op.drop_table("connector_settings")
    op.drop_table("connector_activations")
    with op.batch_alter_table("connector_definitions", schema=None) as batch_op:
        batch_op.drop_index("uq_connector_definitions_name")

    op.drop_table("connector_definitions")
