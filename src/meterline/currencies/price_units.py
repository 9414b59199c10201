"""Price unit rules.

* ``code`` (1–20 characters, case-sensitive) is unique among the environment's live units
  and never changes (as upstream: "code is immutable once created"); ``base_currency`` is an
  ISO 4217 currency with minor units and never changes either.
* ``conversion_rate`` is what one unit is worth in the base currency
  (``amount in base currency = amount in units × rate``): greater than 0 and within the
  money bounds, and fixed once created, so a price made in the unit keeps the amounts it
  was made with (a new rate is a new unit, as a tax rate's percentage).
* Deleting archives the unit and frees its code; prices already made in it keep their
  converted amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.currencies import repository
from meterline.currencies.models import PriceUnit
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel import money
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest, NotFound
from meterline.pricing.fields import currency_of
from meterline.pricing.plans import flush_unique

TAKEN = "A price unit with this code exists"
MAX_CODE = 20


@dataclass(frozen=True)
class NewPriceUnit:
    code: str
    name: str
    symbol: str
    base_currency: str
    conversion_rate: Decimal
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class PriceUnitChanges:
    name: str | None = None
    metadata: dict[str, str] | None = None


def check_rate(value: Decimal, field: str = "conversion_rate") -> Decimal:
    """A conversion or exchange rate: finite, greater than 0, within the money bounds."""
    reason = money.problem(value)
    if reason is not None:
        raise InvalidRequest(f"{field} {reason}", field=field)
    if value <= 0:
        raise InvalidRequest(f"{field} must be greater than 0", field=field)
    return value


def create_price_unit(session: Session, principal: Principal, data: NewPriceUnit) -> PriceUnit:
    code = data.code.strip()
    if not code or len(code) > MAX_CODE:
        raise InvalidRequest(f"code must be 1 to {MAX_CODE} characters", field="code")
    for field in ("name", "symbol"):
        if not getattr(data, field).strip():
            raise InvalidRequest(f"{field} is required", field=field)
    if repository.price_unit_by_code(session, principal.environment_id, code) is not None:
        raise AlreadyExists(TAKEN, details={"code": code})
    unit = PriceUnit(
        id=new_id("price_unit"),
        environment_id=principal.environment_id,
        code=code,
        name=data.name.strip(),
        symbol=data.symbol.strip(),
        base_currency=currency_of(data.base_currency, "base_currency").lower(),
        conversion_rate=check_rate(data.conversion_rate),
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(unit)
    flush_unique(session, TAKEN)
    return unit


def get_price_unit(session: Session, principal: Principal, unit_id: str) -> PriceUnit:
    found = repository.price_unit(session, principal.environment_id, unit_id)
    return existing(found, "price unit", unit_id)


def get_by_code(session: Session, principal: Principal, code: str) -> PriceUnit:
    found = repository.price_unit_by_code(session, principal.environment_id, code)
    return existing(found, "price unit", code)


def unit_for_price(session: Session, environment_id: str, code: str) -> PriceUnit:
    """The live unit a new price names by ``code``; a 400 naming the field when none is."""
    found = repository.price_unit_by_code(session, environment_id, code)
    if found is None:
        raise InvalidRequest(
            f"no price unit has the code {code!r}",
            field="price_unit_config.price_unit",
            details={"provided_value": code},
        )
    return found


def search_price_units(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[PriceUnit], int]:
    q = repository.PriceUnitQuery(**filters)
    return repository.search_price_units(session, principal.environment_id, q, limit, offset)


def update_price_unit(
    session: Session, principal: Principal, unit_id: str, changes: PriceUnitChanges
) -> PriceUnit:
    unit = get_price_unit(session, principal, unit_id)
    if unit.status != "published":
        raise InvalidOperation("a deleted price unit cannot be updated")
    if changes.name is not None:
        if not changes.name.strip():
            raise InvalidRequest("name must not be empty", field="name")
        unit.name = changes.name.strip()
    if changes.metadata is not None:
        unit.metadata_ = dict(changes.metadata)
    unit.updated_by = principal.user_id
    unit.updated_at = utcnow()
    session.flush()
    return unit


def delete_price_unit(session: Session, principal: Principal, unit_id: str) -> None:
    unit = get_price_unit(session, principal, unit_id)
    if unit.status != "published":
        raise NotFound("price unit", unit_id)
    unit.status = "archived"
    unit.updated_by = principal.user_id
    unit.updated_at = utcnow()
    session.flush()
