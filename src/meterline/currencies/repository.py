"""The SQL of price units and exchange rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.currencies.models import FxRate, PriceUnit
from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, finish, searched


def price_unit(session: Session, environment_id: str, unit_id: str) -> PriceUnit | None:
    return in_environment(session, PriceUnit, environment_id, PriceUnit.id == unit_id)


def price_unit_by_code(session: Session, environment_id: str, code: str) -> PriceUnit | None:
    return published_in_environment(session, PriceUnit, environment_id, PriceUnit.code == code)


@dataclass(frozen=True, kw_only=True)
class PriceUnitQuery(Search):
    ids: Sequence[str] | None = None


UNIT_COLUMNS = {
    "id": PriceUnit.id,
    "code": PriceUnit.code,
    "name": PriceUnit.name,
    "symbol": PriceUnit.symbol,
    "base_currency": PriceUnit.base_currency,
    "conversion_rate": PriceUnit.conversion_rate,
    "created_at": PriceUnit.created_at,
    "updated_at": PriceUnit.updated_at,
}


def search_price_units(
    session: Session, environment_id: str, q: PriceUnitQuery, limit: int, offset: int
) -> tuple[list[PriceUnit], int]:
    stmt = searched(PriceUnit, environment_id, q)
    if q.ids:
        stmt = stmt.where(PriceUnit.id.in_(q.ids))
    return finish(session, stmt, PriceUnit, q, UNIT_COLUMNS, limit, offset)


def fx_rate(session: Session, environment_id: str, rate_id: str) -> FxRate | None:
    return in_environment(session, FxRate, environment_id, FxRate.id == rate_id)


@dataclass(frozen=True, kw_only=True)
class FxRateQuery(Search):
    ids: Sequence[str] | None = None
    from_currency: str | None = None
    to_currency: str | None = None
    scope: str | None = None
    scope_id: str | None = None


FX_COLUMNS = {
    "id": FxRate.id,
    "from_currency": FxRate.from_currency,
    "to_currency": FxRate.to_currency,
    "rate": FxRate.rate,
    "scope": FxRate.scope,
    "scope_id": FxRate.scope_id,
    "source": FxRate.source,
    "start_date": FxRate.start_date,
    "end_date": FxRate.end_date,
    "created_at": FxRate.created_at,
    "updated_at": FxRate.updated_at,
}


def search_fx_rates(
    session: Session, environment_id: str, q: FxRateQuery, limit: int, offset: int
) -> tuple[list[FxRate], int]:
    stmt = searched(FxRate, environment_id, q)
    if q.ids:
        stmt = stmt.where(FxRate.id.in_(q.ids))
    if q.from_currency:
        stmt = stmt.where(FxRate.from_currency == q.from_currency)
    if q.to_currency:
        stmt = stmt.where(FxRate.to_currency == q.to_currency)
    if q.scope:
        stmt = stmt.where(FxRate.scope == q.scope)
    if q.scope_id:
        stmt = stmt.where(FxRate.scope_id == q.scope_id)
    return finish(session, stmt, FxRate, q, FX_COLUMNS, limit, offset)
