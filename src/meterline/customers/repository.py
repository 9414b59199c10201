"""Queries of the customers domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from meterline.customers.models import Customer

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
