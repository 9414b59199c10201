"""Resolving customers by id for other domains."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers.models import Customer
from meterline.db.rows import existing


def external_id_of(session: Session, principal: Principal, customer_id: str) -> str:
    external_id = session.scalars(
        select(Customer.external_id).where(
            Customer.id == customer_id, Customer.environment_id == principal.environment_id
        )
    ).first()
    return existing(external_id, "customer", customer_id)
