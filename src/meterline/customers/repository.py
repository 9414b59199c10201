"""Queries of the customers domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.customers.models import Customer
from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, finish, metadata_has, searched

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
    return in_environment(session, Customer, environment_id, Customer.id == customer_id)


def by_external_id(session: Session, environment_id: str, external_id: str) -> Customer | None:
    return published_in_environment(
        session, Customer, environment_id, Customer.external_id == external_id
    )


def by_slug(session: Session, environment_id: str, slug: str) -> Customer | None:
    return published_in_environment(session, Customer, environment_id, Customer.slug == slug)


@dataclass(frozen=True)
class CustomerQuery(Search):
    """What a customer search selects; every field set narrows the result."""

    customer_ids: Sequence[str] | None = None
    external_ids: Sequence[str] | None = None
    external_id: str | None = None
    email: str | None = None
    metadata: Mapping[str, str] | None = None


def search(
    session: Session, environment_id: str, q: CustomerQuery, limit: int, offset: int
) -> tuple[list[Customer], int]:
    stmt = searched(Customer, environment_id, q)
    if q.customer_ids:
        stmt = stmt.where(Customer.id.in_(list(q.customer_ids)))
    if q.external_ids:
        stmt = stmt.where(Customer.external_id.in_(list(q.external_ids)))
    if q.external_id:
        stmt = stmt.where(Customer.external_id == q.external_id)
    if q.email:
        stmt = stmt.where(Customer.email == q.email)
    stmt = stmt.where(*metadata_has(Customer.metadata_, q.metadata))
    return finish(session, stmt, Customer, q, SEARCHABLE, limit, offset)
