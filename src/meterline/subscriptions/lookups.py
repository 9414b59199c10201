"""Reads across subscriptions: the line item search and a customer's subscriptions by the
customer's external id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.pricing.fields import choice
from meterline.subscriptions import line_item_repository, service
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

ENTITY_TYPES = ("plan", "addon", "subscription")


def search_line_items(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    now: datetime,
    active_only: bool,
    entity_type: str | None = None,
    **filters: Any,
) -> tuple[list[SubscriptionLineItem], int]:
    """The environment's line items matching every filter (``line_item_repository``);
    ``active_only``: those that have not ended by ``now``."""
    kind = None if entity_type is None else choice(entity_type, ENTITY_TYPES, "entity_type")
    q = line_item_repository.LineItemQuery(
        entity_type=kind, not_ended_at=now if active_only else None, **filters
    )
    return line_item_repository.search(
        session, principal.environment_id, q, limit=limit, offset=offset
    )


def subscriptions_of_external_customer(
    session: Session, principal: Principal, external_id: str, *, limit: int
) -> tuple[list[Subscription], int]:
    """Every subscription of the customer with this external id (404 when there is none),
    newest first, at most ``limit`` of them."""
    customer = customers.get_customer_by_external_id(session, principal, external_id)
    return service.search_subscriptions(
        session, principal, limit=limit, offset=0, customer_id=customer.id
    )
