"""Exchange rate rules.

* ``rate`` is how many ``to_currency`` one ``from_currency`` buys: greater than 0, within
  the money bounds; both currencies ISO 4217 with minor units, and not the same one.
* ``scope`` is ``tenant`` (the environment: no ``scope_id``), ``customer`` or
  ``subscription`` (``scope_id`` names one of the environment's); ``source`` is ``fixed``
  (the default: a rate the vendor set) or ``market`` (one it copied from a feed; Meterline
  fetches none).
* The rate holds from ``start_date`` (default now) until ``end_date`` (open when absent);
  an update may move both dates and the rate. Deleting archives the rate.

Rates are stored and served; no invoice is converted with them yet (docs/billing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.currencies import repository
from meterline.currencies.models import FX_SCOPES, FX_SOURCES, FxRate
from meterline.currencies.price_units import check_rate
from meterline.customers import service as customers
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing, in_environment
from meterline.kernel.errors import InvalidOperation, InvalidRequest, NotFound
from meterline.pricing.fields import choice, currency_of
from meterline.subscriptions.models import Subscription


@dataclass(frozen=True)
class NewFxRate:
    from_currency: str
    to_currency: str
    scope: str
    rate: Decimal | None = None
    scope_id: str | None = None
    source: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class FxRateChanges:
    rate: Decimal | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    metadata: dict[str, str] | None = None


def _scope_id(
    session: Session, principal: Principal, scope: str, scope_id: str | None
) -> str | None:
    if scope == "tenant":
        if scope_id not in (None, "", principal.environment_id):
            raise InvalidRequest("a tenant rate has no scope_id", field="scope_id")
        return None
    if not scope_id:
        raise InvalidRequest(f"a {scope} rate needs a scope_id", field="scope_id")
    if scope == "customer":
        return customers.get_customer(session, principal, scope_id).id
    sub = in_environment(
        session, Subscription, principal.environment_id, Subscription.id == scope_id
    )
    return existing(sub, "subscription", scope_id).id


def _dates(start: datetime, end: datetime | None) -> None:
    if end is not None and end <= start:
        raise InvalidRequest("end_date must be after start_date", field="end_date")


def create_fx_rate(session: Session, principal: Principal, data: NewFxRate) -> FxRate:
    source = currency_of(data.from_currency, "from_currency").lower()
    target = currency_of(data.to_currency, "to_currency").lower()
    if source == target:
        raise InvalidRequest("to_currency must differ from from_currency", field="to_currency")
    if data.rate is None:
        raise InvalidRequest("rate is required", field="rate")
    scope = choice(data.scope, FX_SCOPES, "scope")
    start = data.start_date or utcnow()
    _dates(start, data.end_date)
    row = FxRate(
        id=new_id("fxrate"),
        environment_id=principal.environment_id,
        from_currency=source,
        to_currency=target,
        rate=check_rate(data.rate, "rate"),
        scope=scope,
        scope_id=_scope_id(session, principal, scope, data.scope_id),
        source=choice(data.source or "fixed", FX_SOURCES, "source"),
        start_date=start,
        end_date=data.end_date,
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    return row


def get_fx_rate(session: Session, principal: Principal, rate_id: str) -> FxRate:
    return existing(
        repository.fx_rate(session, principal.environment_id, rate_id), "fx rate", rate_id
    )


def search_fx_rates(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[FxRate], int]:
    for field in ("from_currency", "to_currency"):
        if filters.get(field):
            filters[field] = currency_of(filters[field], field).lower()
    if filters.get("scope"):
        choice(filters["scope"], FX_SCOPES, "scope")
    q = repository.FxRateQuery(**filters)
    return repository.search_fx_rates(session, principal.environment_id, q, limit, offset)


def update_fx_rate(
    session: Session, principal: Principal, rate_id: str, changes: FxRateChanges
) -> FxRate:
    row = get_fx_rate(session, principal, rate_id)
    if row.status != "published":
        raise InvalidOperation("a deleted fx rate cannot be updated")
    if changes.rate is not None:
        row.rate = check_rate(changes.rate, "rate")
    start = changes.start_date or row.start_date
    end = changes.end_date if changes.end_date is not None else row.end_date
    _dates(start, end)
    row.start_date, row.end_date = start, end
    if changes.metadata is not None:
        row.metadata_ = dict(changes.metadata)
    row.updated_by = principal.user_id
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_fx_rate(session: Session, principal: Principal, rate_id: str) -> None:
    row = get_fx_rate(session, principal, rate_id)
    if row.status != "published":
        raise NotFound("fx rate", rate_id)
    row.status = "archived"
    row.updated_by = principal.user_id
    row.updated_at = utcnow()
    session.flush()
