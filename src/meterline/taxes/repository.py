"""The SQL of tax rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterline.db.rows import by_ids, in_environment, published_in_environment
from meterline.db.search import Search, finish, page, searched
from meterline.taxes.models import TaxApplied, TaxAssociation, TaxRate


def tax_rate(session: Session, environment_id: str, rate_id: str) -> TaxRate | None:
    return in_environment(session, TaxRate, environment_id, TaxRate.id == rate_id)


def tax_rate_by_code(session: Session, environment_id: str, code: str) -> TaxRate | None:
    return published_in_environment(session, TaxRate, environment_id, TaxRate.code == code)


@dataclass(frozen=True, kw_only=True)
class TaxRateQuery(Search):
    ids: Sequence[str] | None = None
    codes: Sequence[str] | None = None
    scope: str | None = None


COLUMNS = {
    "id": TaxRate.id,
    "code": TaxRate.code,
    "name": TaxRate.name,
    "scope": TaxRate.scope,
    "percentage_value": TaxRate.percentage_value,
    "created_at": TaxRate.created_at,
    "updated_at": TaxRate.updated_at,
}


def search(
    session: Session, environment_id: str, q: TaxRateQuery, limit: int, offset: int
) -> tuple[list[TaxRate], int]:
    stmt = searched(TaxRate, environment_id, q)
    if q.ids:
        stmt = stmt.where(TaxRate.id.in_(q.ids))
    if q.codes:
        stmt = stmt.where(TaxRate.code.in_(q.codes))
    if q.scope:
        stmt = stmt.where(TaxRate.scope == q.scope)
    return finish(session, stmt, TaxRate, q, COLUMNS, limit, offset)


def rates_by_id(session: Session, ids: Sequence[str]) -> dict[str, TaxRate]:
    return by_ids(session, TaxRate, ids)


def association(
    session: Session, environment_id: str, association_id: str
) -> TaxAssociation | None:
    return in_environment(
        session, TaxAssociation, environment_id, TaxAssociation.id == association_id
    )


def associations(
    session: Session,
    environment_id: str,
    *,
    entity_type: str | None,
    entity_id: str | None,
    tax_rate_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TaxAssociation], int]:
    stmt = select(TaxAssociation).where(
        TaxAssociation.environment_id == environment_id, TaxAssociation.status == "published"
    )
    if entity_type:
        stmt = stmt.where(TaxAssociation.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(TaxAssociation.entity_id == entity_id)
    if tax_rate_id:
        stmt = stmt.where(TaxAssociation.tax_rate_id == tax_rate_id)
    return page(session, stmt.order_by(TaxAssociation.created_at, TaxAssociation.id), limit, offset)


def for_entities(
    session: Session, environment_id: str, entity_ids: Sequence[str]
) -> list[tuple[TaxAssociation, TaxRate]]:
    """The live associations of these entities with their rates."""
    rows = session.execute(
        select(TaxAssociation, TaxRate)
        .join(TaxRate, TaxRate.id == TaxAssociation.tax_rate_id)
        .where(
            TaxAssociation.environment_id == environment_id,
            TaxAssociation.entity_id.in_(entity_ids),
            TaxAssociation.status == "published",
        )
    )
    return [(a, r) for a, r in rows]


def delete_applied(session: Session, invoice_id: str) -> None:
    session.execute(
        delete(TaxApplied).where(
            TaxApplied.entity_type == "invoice", TaxApplied.entity_id == invoice_id
        )
    )


def applied_to(session: Session, invoice_id: str) -> list[TaxApplied]:
    return list(
        session.scalars(
            select(TaxApplied)
            .where(TaxApplied.entity_type == "invoice", TaxApplied.entity_id == invoice_id)
            .order_by(TaxApplied.applied_at, TaxApplied.id)
        )
    )
