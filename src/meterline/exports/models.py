"""Tasks (exports and imports), the files uploaded for imports, and scheduled exports.

A task is one export or one import. An export's file is not stored: it is streamed from
the database when downloaded, over the range and snapshot instant the task fixed
(exports/streams.py). The partial unique index on ``(environment_id, upload_id)`` of
exports makes an export with the same ``upload_id`` one task, and makes each tick of a
schedule one task: a schedule's tick is claimed by inserting the task whose ``upload_id``
names the schedule and the window, and a second claimant's insert fails on the index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, unique_where

TASK_TYPES = ("EXPORT", "IMPORT")
TASK_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_env_created", "environment_id", "created_at"),
        Index("ix_tasks_pending", "task_status", "task_type"),
        unique_where(
            "uq_tasks_env_export_upload",
            "environment_id",
            "upload_id",
            where="task_type = 'EXPORT'",
        ),
    )

    id: Mapped[str] = id_column("task")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    task_type: Mapped[str] = mapped_column(String(10))
    entity_type: Mapped[str] = mapped_column(String(20))
    file_type: Mapped[str] = mapped_column(String(10))  # CSV or JSON (newline-delimited)
    file_provider: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str | None] = mapped_column(String(255), default=None)
    upload_id: Mapped[str] = mapped_column(String(255))
    task_status: Mapped[str] = mapped_column(String(20), default="PENDING")
    status: Mapped[str] = mapped_column(String(20), default="published")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # An export's range (over the entity's time column) and the instant it reads as of.
    range_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    range_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    scheduled_task_id: Mapped[str | None] = mapped_column(String(40), default=None)
    total_records: Mapped[int | None] = mapped_column(default=None)
    processed_records: Mapped[int] = mapped_column(default=0)
    successful_records: Mapped[int] = mapped_column(default=0)
    failed_records: Mapped[int] = mapped_column(default=0)
    error_summary: Mapped[str | None] = mapped_column(String(2000), default=None)
    # An import's outcome: rows created, updated and unchanged.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class TaskUpload(Base):
    """A file uploaded for an import (``POST /v1/tasks/uploads``), bounded in size."""

    __tablename__ = "task_uploads"

    id: Mapped[str] = id_column("upl")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    file_name: Mapped[str | None] = mapped_column(String(255), default=None)
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)


class ScheduledTask(TimestampMixin, Base):
    """A recurring export: each tick exports the window that just ended."""

    __tablename__ = "scheduled_tasks"
    __table_args__ = (Index("ix_scheduled_tasks_env", "environment_id", "created_at"),)

    id: Mapped[str] = id_column("stask")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    connection_id: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    interval: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    file_type: Mapped[str] = mapped_column(String(10), default="CSV")
    job_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
