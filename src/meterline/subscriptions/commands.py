"""Typed commands of the subscription service, built by the API layer from its wire models.

Types are settled at the wire (instants parsed and bounded there); the service checks
values (choices, bounds, references, dates against each other). ``None`` means "not
given"; an update changes only the fields not ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CreateSubscription:
    customer_id: str | None = None
    external_customer_id: str | None = None
    plan_id: str | None = None
    currency: str | None = None
    billing_period: str | None = None
    billing_period_count: int | None = None
    billing_cycle: str | None = None
    billing_anchor: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    trial_period_days: int | None = None
    lookup_key: str | None = None
    subscription_status: str | None = None
    metadata: dict[str, str] | None = None
    # override_line_items: the quantity of each named FIXED price (seats).
    quantities: dict[str, Decimal] | None = None


@dataclass(frozen=True)
class SubscriptionChanges:
    # Only echoed: a status change has its own operation (activate, pause, cancel).
    status: str | None = None
    cancel_at: datetime | None = None
    cancel_at_period_end: bool | None = None
