"""exports_activity: the activity log, export and import tasks, uploads, scheduled exports

Revision ID: 1900
Revises: 2200
Create Date: 2026-12-03 15:01:10.352781
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1900"
down_revision: str | Sequence[str] | None = "2200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_log",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_log")),
    )
    with op.batch_alter_table("activity_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_log_env_entity",
            ["environment_id", "entity_type", "entity_id"],
            unique=False,
        )
        batch_op.create_index("ix_activity_log_env_id", ["environment_id", "id"], unique=False)
        batch_op.create_index(
            "ix_activity_log_env_occurred", ["environment_id", "occurred_at"], unique=False
        )

    op.create_table(
        "scheduled_tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("file_type", sa.String(length=10), nullable=False),
        sa.Column("job_config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_scheduled_tasks_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_tasks")),
    )
    with op.batch_alter_table("scheduled_tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduled_tasks_env", ["environment_id", "created_at"], unique=False
        )

    op.create_table(
        "task_uploads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_task_uploads_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_uploads")),
    )
    with op.batch_alter_table("task_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_uploads_environment_id"), ["environment_id"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("task_type", sa.String(length=10), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("file_type", sa.String(length=10), nullable=False),
        sa.Column("file_provider", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("upload_id", sa.String(length=255), nullable=False),
        sa.Column("task_status", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("range_start", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("range_end", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("snapshot_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("scheduled_task_id", sa.String(length=40), nullable=True),
        sa.Column("total_records", sa.Integer(), nullable=True),
        sa.Column("processed_records", sa.Integer(), nullable=False),
        sa.Column("successful_records", sa.Integer(), nullable=False),
        sa.Column("failed_records", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.String(length=2000), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("started_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("completed_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("failed_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_tasks_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_env_created", ["environment_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_tasks_pending", ["task_status", "task_type"], unique=False)
        batch_op.create_index(
            "uq_tasks_env_export_upload",
            ["environment_id", "upload_id"],
            unique=True,
            sqlite_where=sa.text("task_type = 'EXPORT'"),
            postgresql_where=sa.text("task_type = 'EXPORT'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_tasks_env_export_upload",
            sqlite_where=sa.text("task_type = 'EXPORT'"),
            postgresql_where=sa.text("task_type = 'EXPORT'"),
        )
        batch_op.drop_index("ix_tasks_pending")
        batch_op.drop_index("ix_tasks_env_created")

    op.drop_table("tasks")
    with op.batch_alter_table("task_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_uploads_environment_id"))

    op.drop_table("task_uploads")
    with op.batch_alter_table("scheduled_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_tasks_env")

    op.drop_table("scheduled_tasks")
    with op.batch_alter_table("activity_log", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_log_env_occurred")
        batch_op.drop_index("ix_activity_log_env_id")
        batch_op.drop_index("ix_activity_log_env_entity")

    op.drop_table("activity_log")
