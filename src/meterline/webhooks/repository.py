"""Every query of the webhooks domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from meterline.invoicing.models import InvoiceLineItem
from meterline.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)


def invoice_lines(session: Session, invoice_id: str) -> list[InvoiceLineItem]:
    """An invoice's lines in their order, for its webhook body."""
    return list(
        session.scalars(
            select(InvoiceLineItem)
            .where(InvoiceLineItem.invoice_id == invoice_id)
            .order_by(InvoiceLineItem.position)
        )
    )


def endpoint(session: Session, environment_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    return session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.environment_id == environment_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.status == "published",
        )
    )


def endpoints(
    session: Session, environment_id: str, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    where = (
        WebhookEndpoint.environment_id == environment_id,
        WebhookEndpoint.status == "published",
    )
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(*where)
        .order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(*where)) or 0
    return list(rows), int(total)


def live_endpoints(session: Session, environment_id: str) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.environment_id == environment_id,
                WebhookEndpoint.status == "published",
            )
        ).all()
    )


def undispatched(session: Session, limit: int) -> list[WebhookMessage]:
    return list(
        session.scalars(
            select(WebhookMessage)
            .where(WebhookMessage.dispatched.is_(False))
            .order_by(WebhookMessage.created_at, WebhookMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )


def count_undispatched(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WebhookMessage)
            .where(WebhookMessage.dispatched.is_(False))
        )
        or 0
    )


def due_deliveries(
    session: Session,
    now: datetime,
    limit: int,
    *,
    skip_endpoints: Collection[str] = (),
    skip_environments: Collection[str] = (),
) -> list[tuple[str, str, str]]:
    """Due, unclaimed deliveries of enabled endpoints, oldest first, as (delivery id,
    endpoint id, environment id); none of the endpoints or environments to skip (those
    the worker has busy), so a backlog of theirs cannot hide another endpoint's delivery."""
    query = (
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookEndpoint.environment_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.status == "published",
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(limit)
    )
    if skip_endpoints:
        query = query.where(WebhookDelivery.endpoint_id.not_in(list(skip_endpoints)))
    if skip_environments:
        query = query.where(WebhookEndpoint.environment_id.not_in(list(skip_environments)))
    return [(str(d), str(e), str(env)) for d, e, env in session.execute(query).all()]


def claim(session: Session, delivery_id: str, now: datetime, until: datetime) -> bool:
    """Takes the delivery for one attempt unless another worker holds it."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        )
        .values(claimed_until=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delivery(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def message(session: Session, message_id: str) -> WebhookMessage | None:
    return session.get(WebhookMessage, message_id)


def endpoint_by_id(session: Session, endpoint_id: str) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def deliveries_of(
    session: Session, endpoint_id: str, limit: int, offset: int
) -> tuple[list[tuple[WebhookDelivery, WebhookMessage]], int]:
    rows = session.execute(
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    return [(d, m) for d, m in rows], int(total or 0)


def delivery_of_endpoint(
    session: Session, endpoint_id: str, delivery_id: str
) -> tuple[WebhookDelivery, WebhookMessage] | None:
    row = session.execute(
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.id == delivery_id)
    ).first()
    return None if row is None else (row[0], row[1])


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    out: dict[str, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    for row in session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
    ).all():
        out[row.delivery_id].append(row)
    return out
