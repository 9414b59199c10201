"""components, releases, deployment zones, metadata fields, the audit trail; instances.deployment_zone_id

Revision ID: 1020
Revises: 0920
Create Date: 2026-12-02 11:19:14.608863
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1020"
down_revision: str | Sequence[str] | None = "0920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=150), nullable=False),
        sa.Column("instance_id", sa.String(length=40), nullable=True),
        sa.Column("instance_slug", sa.String(length=100), nullable=True),
        sa.Column("license_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_entries_id")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_instance", ["instance_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_entries_license", ["license_id", "seq"], unique=False)

    op.create_table(
        "components",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("previous_component_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_components_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
    )
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.create_index("uq_components_env_slug", ["environment_id", "slug"], unique=True)

    op.create_table(
        "metadata_fields",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("resource_type", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("json_schema", sa.JSON(), nullable=False),
        sa.Column("display_order", sa.Integer(), nullable=True),
        sa.Column("archived_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_metadata_fields_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata_fields")),
    )
    with op.batch_alter_table("metadata_fields", schema=None) as batch_op:
        batch_op.create_index(
            "uq_metadata_fields_active_key",
            ["environment_id", "resource_type", "key"],
            unique=True,
            sqlite_where=sa.text("archived_at IS NULL"),
            postgresql_where=sa.text("archived_at IS NULL"),
        )

    op.create_table(
        "releases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_releases_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index("uq_releases_env_slug", ["environment_id", "slug"], unique=True)
        batch_op.create_index("uq_releases_env_version", ["environment_id", "version"], unique=True)

    op.create_table(
        "deployment_zones",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("release_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_deployment_zones_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_deployment_zones_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_zones")),
    )
    with op.batch_alter_table("deployment_zones", schema=None) as batch_op:
        batch_op.create_index("ix_deployment_zones_release", ["release_id"], unique=False)
        batch_op.create_index(
            "uq_deployment_zones_env_slug", ["environment_id", "slug"], unique=True
        )

    op.create_table(
        "release_components",
        sa.Column("release_id", sa.String(length=40), nullable=False),
        sa.Column("component_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_release_components_component_id_components"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_release_components_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_id", "component_id", name=op.f("pk_release_components")),
    )
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.create_index("ix_release_components_component", ["component_id"], unique=False)

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployment_zone_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_instances_deployment_zone_id_deployment_zones"),
            "deployment_zones",
            ["deployment_zone_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_instances_deployment_zone_id_deployment_zones"), type_="foreignkey"
        )
        batch_op.drop_column("deployment_zone_id")

    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.drop_index("ix_release_components_component")

    op.drop_table("release_components")
    with op.batch_alter_table("deployment_zones", schema=None) as batch_op:
        batch_op.drop_index("uq_deployment_zones_env_slug")
        batch_op.drop_index("ix_deployment_zones_release")

    op.drop_table("deployment_zones")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index("uq_releases_env_version")
        batch_op.drop_index("uq_releases_env_slug")

    op.drop_table("releases")
    with op.batch_alter_table("metadata_fields", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_metadata_fields_active_key",
            sqlite_where=sa.text("archived_at IS NULL"),
            postgresql_where=sa.text("archived_at IS NULL"),
        )

    op.drop_table("metadata_fields")
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.drop_index("uq_components_env_slug")

    op.drop_table("components")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_license")
        batch_op.drop_index("ix_audit_entries_instance")

    op.drop_table("audit_entries")
