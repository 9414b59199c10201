"""Feature flags of an environment; connectors of the deployment and each environment's
activation and settings of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow


class FeatureFlag(TimestampMixin, Base):
    """A typed flag: its variants, targeting rules (CEL) and default variant, as sent.

    ``variants``, ``default_variant`` and ``targetings`` are stored in their wire shape
    (validated on the way in); ``flag_rules`` evaluates them."""

    __tablename__ = "feature_flags"
    __table_args__ = (Index("uq_feature_flags_env_slug", "environment_id", "slug", unique=True),)

    id: Mapped[str] = id_column("flag")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    type: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(default=True)
    event_name: Mapped[str] = mapped_column(String(255), default="")
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    default_variant: Mapped[dict[str, Any]] = mapped_column(JSON)
    targetings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(40), default=None)


class ConnectorDefinition(TimestampMixin, Base):
    """A connector this deployment offers: deployment-wide, registered by the operator."""

    __tablename__ = "connector_definitions"
    __table_args__ = (Index("uq_connector_definitions_name", "name", unique=True),)

    id: Mapped[str] = id_column("conn")
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    settings_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    entitlement_slug: Mapped[str | None] = mapped_column(String(100), default=None)


class ConnectorActivation(Base):
    """An environment's activation of a connector (a row while it is on)."""

    __tablename__ = "connector_activations"

    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), primary_key=True)
    connector_id: Mapped[str] = mapped_column(
        ForeignKey("connector_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConnectorSettings(TimestampMixin, Base):
    """An environment's settings of a connector, valid against its schema when written."""

    __tablename__ = "connector_settings"

    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), primary_key=True)
    connector_id: Mapped[str] = mapped_column(
        ForeignKey("connector_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
