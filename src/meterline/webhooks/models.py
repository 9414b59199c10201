"""Webhook endpoints, the outbox of messages, deliveries and the delivery log.

A *message* is written to the outbox in the transaction of the change that caused it
(:func:`meterline.webhooks.outbox.record`), so it commits or rolls back with that change. The
worker fans each message out to one *delivery* per subscribed endpoint and tries each
delivery until it succeeds or runs out of attempts; every try is an *attempt* in the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow

# Flexprice's event types (its SDK's ``webhook_events``) that Meterline sends, each with the
# body of the SDK's payload model for it (webhooks/payloads.py).
FLEXPRICE_EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "feature.created",
    "feature.updated",
    "feature.deleted",
    "entitlement.created",
    "entitlement.updated",
    "entitlement.deleted",
    "subscription.created",
    "subscription.cancelled",
    "invoice.update.finalized",
    "invoice.update.payment",
    "invoice.update.voided",
    "invoice.communication.triggered",
    "wallet.credit_balance.dropped",
    "payment.created",
    "payment.updated",
    "payment.success",
    "payment.failed",
    "payment.pending",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
    "wallet.credit_balance.recovered",
    "subscription.spend.threshold_reached",
    "subscription.spend.threshold_recovered",
    "subscription.line_item_spend.threshold_reached",
    "subscription.line_item_spend.threshold_recovered",
    "subscription.updated",
    "subscription.paused",
    "subscription.resumed",
    "subscription.plan_changed",
    "subscription.activated",
    "subscription.draft.created",
    "wallet.created",
    "wallet.updated",
    "wallet.terminated",
    "credit_note.created",
    "credit_note.updated",
    "invoice.create.drafted",
    "invoice.update",
    "wallet.transaction.created",
    "checkout.session.initiated",
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.failed",
    "invoice.payment.overdue",
    "subscription.renewal.due",
)
# Meterline's own events, which Flexprice has no equivalent of (docs/webhooks.md).
METERLINE_EVENT_TYPES = (
    "subscription.billing_failed",
    "entitlement.usage_reached",
    "entitlement.limit_exceeded",
    "instance.usage_threshold_reached",
    "entitlement.usage_threshold.reached",
    "entitlement.usage_threshold.recovered",
)
EVENT_TYPES = FLEXPRICE_EVENT_TYPES + METERLINE_EVENT_TYPES
# Names Meterline used before it took Flexprice's: still accepted in an endpoint's
# ``event_types`` (stored as the new name) and matched when fanning out.
LEGACY_EVENT_TYPES = {
    "invoice.finalized": "invoice.update.finalized",
    "invoice.paid": "invoice.update.payment",
    "invoice.voided": "invoice.update.voided",
    "wallet.balance_low": "wallet.credit_balance.dropped",
}


def subscribes_to(event_types: list[str] | None, event_type: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` (empty = every type, legacy names
    as their new ones) receives ``event_type``."""
    if not event_types:
        return True
    return any(LEGACY_EVENT_TYPES.get(t, t) == event_type for t in event_types)


DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(TimestampMixin, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_env", "environment_id", "status"),)

    id: Mapped[str] = id_column("whep")
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    # Event types this endpoint receives; empty = every type.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Standard Webhooks secret: "whsec_" + base64 of the key bytes.
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="published")


class WebhookMessage(Base):
    """The outbox: one row per event, written in the transaction that caused it."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_undispatched", "dispatched", "created_at"),
        Index("ix_webhook_messages_env_created", "environment_id", "created_at"),
    )

    id: Mapped[str] = id_column("msg")
    environment_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dispatched: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(TimestampMixin, Base):
    """One message to one endpoint, tried until it succeeds or runs out of attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "message_id", "endpoint_id", name="uq_webhook_deliveries_message_endpoint"
        ),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = id_column("whdel")
    environment_id: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(ForeignKey("webhook_messages.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A worker that claims the delivery holds it until this instant (several processes).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[str] = id_column("whatt")
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"))
    endpoint_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column()
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(default=0)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
