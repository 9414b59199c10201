"""Queries of the customers domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from meterline.customers.models import Customer
from meterline.db.search import apply_filters, apply_sort, created_between, metadata_has, page

SEARCHABLE = {
    "id": Customer.id,
    "external_id": Customer.external_id,
    "name": Customer.name,
    "email": Customer.email,
    "status": Customer.status,
    "slug": Customer.slug,
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
}


def by_id(session: Session, environment_id: str, customer_id: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(
            Customer.environment_id == environment_id, Customer.id == customer_id
        )
    ).first()


def by_external_id(session: Session, environment_id: str, external_id: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(
            Customer.environment_id == environment_id,
            Customer.external_id == external_id,
            Customer.status == "published",
        )
    ).first()


def by_slug(session: Session, environment_id: str, slug: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(
            Customer.environment_id == environment_id,
            Customer.slug == slug,
            Customer.status == "published",
        )
    ).first()


def base_query(environment_id: str) -> Select[Any]:
    return select(Customer).where(Customer.environment_id == environment_id)


@dataclass(frozen=True)
class CustomerQuery:
    """What a customer search selects; every field set narrows the result."""

    customer_ids: Sequence[str] | None = None
    external_ids: Sequence[str] | None = None
    external_id: str | None = None
    email: str | None = None
    metadata: Mapping[str, str] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    filters: Sequence[Any] | None = None
    sort: Sequence[Any] | str | None = None
    order: str | None = None


def search(
    session: Session, environment_id: str, q: CustomerQuery, limit: int, offset: int
) -> tuple[list[Customer], int]:
    stmt = base_query(environment_id).where(Customer.status == (q.status or "published"))
    if q.customer_ids:
        stmt = stmt.where(Customer.id.in_(list(q.customer_ids)))
    if q.external_ids:
        stmt = stmt.where(Customer.external_id.in_(list(q.external_ids)))
    if q.external_id:
        stmt = stmt.where(Customer.external_id == q.external_id)
    if q.email:
        stmt = stmt.where(Customer.email == q.email)
    stmt = stmt.where(*metadata_has(Customer.metadata_, q.metadata))
    stmt = stmt.where(*created_between(Customer.created_at, q.start_time, q.end_time))
    stmt = apply_filters(stmt, q.filters, SEARCHABLE)
    stmt = apply_sort(stmt, q.sort, q.order, SEARCHABLE).order_by(Customer.id)
    return page(session, stmt, limit, offset)
