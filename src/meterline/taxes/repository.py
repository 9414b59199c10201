"""The SQL of tax rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, finish, searched
from meterline.taxes.models import TaxRate


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
