"""Typed commands of the webhook endpoint service, built by the API layer from its wire
models. ``None`` means "not given"; an update changes only the fields not ``None``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateEndpoint:
    url: str
    # None or empty: every event type.
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    enabled: bool | None = None
