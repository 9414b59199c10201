"""Webhook endpoints of an environment: register, change, disable, remove; the delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidOperation, InvalidRequest, NotFound
from meterline.webhooks import repository
from meterline.webhooks.commands import CreateEndpoint, EndpointChanges
from meterline.webhooks.egress import RefusedDestination, destination
from meterline.webhooks.models import (
    EVENT_TYPES,
    LEGACY_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from meterline.webhooks.models import WebhookMessage as Message
from meterline.webhooks.outbox import wake_after_commit
from meterline.webhooks.signing import new_secret

MAX_ENDPOINTS_PER_ENVIRONMENT = 50


def _url(value: str, allow_private: bool) -> str:
    """``value`` if it is an absolute http(s) URL whose host resolves to public addresses
    only (any address with ``METERLINE_WEBHOOK_ALLOW_PRIVATE``); the worker checks again at
    each delivery."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("url must be an absolute http(s) URL", field="url")
    try:
        if allow_private:
            _ = parts.port  # the port must still be a port: the rest is not looked at
        else:
            destination(value, allow_private=False)
    except ValueError as exc:
        raise InvalidRequest("url has an invalid port", field="url") from exc
    except RefusedDestination as exc:
        raise InvalidRequest(f"url is refused: {exc}", field="url") from exc
    return value


def _event_types(values: Sequence[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(LEGACY_EVENT_TYPES.get(v, v) for v in values or []))
    unknown = [v for v in chosen if v not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"unknown event type {unknown[0]!r}",
            field="event_types",
            details={"allowed_values": list(EVENT_TYPES), "provided_value": unknown[0]},
        )
    return chosen


def get_endpoint(session: Session, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    found = repository.endpoint(session, principal.environment_id, endpoint_id)
    return existing(found, "webhook endpoint", endpoint_id)


def create_endpoint(
    session: Session,
    principal: Principal,
    command: CreateEndpoint,
    *,
    allow_private: bool = False,
) -> WebhookEndpoint:
    """Registers ``url`` for ``event_types`` (none = every type) with a new signing secret."""
    _, total = repository.endpoints(session, principal.environment_id, 1, 0)
    if total >= MAX_ENDPOINTS_PER_ENVIRONMENT:
        raise InvalidRequest(
            f"an environment has at most {MAX_ENDPOINTS_PER_ENVIRONMENT} webhook endpoints"
        )
    found = WebhookEndpoint(
        environment_id=principal.environment_id,
        url=_url(command.url, allow_private),
        event_types=_event_types(command.event_types),
        description=command.description,
        secret=new_secret(),
        metadata_=dict(command.metadata or {}),
    )
    session.add(found)
    session.flush()
    return found


def update_endpoint(
    session: Session,
    principal: Principal,
    endpoint_id: str,
    changes: EndpointChanges,
    *,
    allow_private: bool = False,
) -> WebhookEndpoint:
    """Changes url, event_types, description, metadata or enabled; re-enabling resets the
    failure count and resumes the endpoint's pending deliveries."""
    found = get_endpoint(session, principal, endpoint_id)
    if changes.url is not None:
        found.url = _url(changes.url, allow_private)
    if changes.event_types is not None:
        found.event_types = _event_types(changes.event_types)
    if changes.description is not None:
        found.description = changes.description
    if changes.metadata is not None:
        found.metadata_ = dict(changes.metadata)
    if changes.enabled is not None:
        found.enabled = changes.enabled
        if found.enabled:
            found.consecutive_failures = 0
            found.disabled_reason = None
        else:
            found.disabled_reason = "disabled by request"
    session.flush()
    return found


def rotate_secret(session: Session, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    found = get_endpoint(session, principal, endpoint_id)
    found.secret = new_secret()
    session.flush()
    return found


def delete_endpoint(session: Session, principal: Principal, endpoint_id: str) -> None:
    found = get_endpoint(session, principal, endpoint_id)
    found.status = "archived"
    found.enabled = False
    session.flush()


def list_endpoints(
    session: Session, principal: Principal, *, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    return repository.endpoints(session, principal.environment_id, limit, offset)


def list_deliveries(
    session: Session, principal: Principal, endpoint_id: str, *, limit: int, offset: int
) -> tuple[list[tuple[WebhookDelivery, Message, list[WebhookAttempt]]], int]:
    """The endpoint's delivery log, newest first, each delivery with its attempts."""
    get_endpoint(session, principal, endpoint_id)
    rows, total = repository.deliveries_of(session, endpoint_id, limit, offset)
    attempts = repository.attempts_of(session, [d.id for d, _ in rows])
    return [(d, m, attempts[d.id]) for d, m in rows], total


Logged = tuple[WebhookDelivery, Message, list[WebhookAttempt]]


def get_delivery(
    session: Session, principal: Principal, endpoint_id: str, delivery_id: str
) -> Logged:
    """One delivery of the endpoint with its attempts."""
    get_endpoint(session, principal, endpoint_id)
    found = repository.delivery_of_endpoint(session, endpoint_id, delivery_id)
    if found is None:
        raise NotFound("webhook delivery", delivery_id)
    delivery, message = found
    return delivery, message, repository.attempts_of(session, [delivery.id])[delivery.id]


def replay_delivery(
    session: Session, principal: Principal, endpoint_id: str, delivery_id: str
) -> Logged:
    """Sends a finished delivery (succeeded or failed) again: it is pending and due now, the
    same message (same ``webhook-id`` and body), its attempts added to the same log. A
    failed replay is retried while the delivery has attempts left of ``max_attempts`` in
    all, so one whose attempts were used up gets exactly one more."""
    endpoint = get_endpoint(session, principal, endpoint_id)
    delivery, message, attempts = get_delivery(session, principal, endpoint_id, delivery_id)
    if not endpoint.enabled:
        raise InvalidOperation("the endpoint is disabled: enable it to replay its deliveries")
    if delivery.status == "pending":
        raise InvalidOperation("the delivery is still pending: it is sent at next_attempt_at")
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.claimed_until = None
    session.flush()
    wake_after_commit(session)
    return delivery, message, attempts
