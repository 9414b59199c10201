"""Integrations: a customer's or an instance's link to a record in a third-party system
(an Attio or HubSpot record), one per adapter, found again by that record's id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, id_column

OWNER_KINDS = ("customer", "instance")


class Integration(TimestampMixin, Base):
    """One link. An owner has at most one per adapter, and an adapter's record id names at
    most one owner of each kind, so the record finds its customer or instance again.

    ``owner_id`` is a customer's or an instance's id (``owner_kind`` says which): there is no
    foreign key over two tables; deleting the owner deletes its links (licensing services).
    ``updated_at`` is the link's ``synced_at``.
    """

    __tablename__ = "kaiten_integrations"
    __table_args__ = (
        Index(
            "uq_kaiten_integrations_owner",
            "environment_id",
            "owner_kind",
            "owner_id",
            "name",
            unique=True,
        ),
        Index(
            "uq_kaiten_integrations_external",
            "environment_id",
            "owner_kind",
            "name",
            "external_id",
            unique=True,
        ),
    )

    id: Mapped[str] = id_column("intg")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    owner_kind: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    web_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)
