"""Tax rate rules.

* ``code`` (case-sensitive) is unique among the environment's rates that are not deleted;
  ``percentage_value`` is at least 0 and at most 100 and never changes once created (an
  invoice taxed at a rate keeps the rate it was taxed at; a new rate is a new code), as
  Stripe's tax rates, whose percentage cannot be updated.
* ``tax_rate_status`` ACTIVE or INACTIVE (an inactive rate is kept for reading, as Stripe's
  ``active: false``); deleting archives the rate and frees its code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, InvalidOperation, InvalidRequest
from meterline.pricing.plans import flush_unique
from meterline.taxes import repository
from meterline.taxes.models import RATE_STATUSES, SCOPES, TAX_RATE_TYPES, TaxRate

HUNDRED = Decimal(100)
TAKEN = "A tax rate with this code exists"


@dataclass(frozen=True)
class NewTaxRate:
    code: str
    name: str
    percentage_value: Decimal | None = None
    tax_rate_type: str | None = None
    scope: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class TaxRateChanges:
    code: str | None = None
    name: str | None = None
    description: str | None = None
    tax_rate_status: str | None = None
    metadata: dict[str, str] | None = None


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def _code(session: Session, principal: Principal, code: str, own: str | None = None) -> str:
    code = code.strip()
    if not code:
        raise InvalidRequest("code is required", field="code")
    other = repository.tax_rate_by_code(session, principal.environment_id, code)
    if other is not None and other.id != own:
        raise AlreadyExists(TAKEN, details={"code": code})
    return code


def create_tax_rate(session: Session, principal: Principal, data: NewTaxRate) -> TaxRate:
    if not data.name.strip():
        raise InvalidRequest("name is required", field="name")
    kind = _choice(data.tax_rate_type or "percentage", TAX_RATE_TYPES, "tax_rate_type")
    scope = _choice(data.scope or "INTERNAL", SCOPES, "scope")
    value = data.percentage_value
    if value is None or not 0 <= value <= HUNDRED:
        raise InvalidRequest(
            "percentage_value must be at least 0 and at most 100", field="percentage_value"
        )
    rate = TaxRate(
        id=new_id("taxrate"),
        environment_id=principal.environment_id,
        code=_code(session, principal, data.code),
        name=data.name.strip(),
        description=data.description,
        tax_rate_type=kind,
        percentage_value=value,
        scope=scope,
        tax_rate_status="ACTIVE",
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(rate)
    flush_unique(session, TAKEN)
    return rate


def get_tax_rate(session: Session, principal: Principal, rate_id: str) -> TaxRate:
    found = repository.tax_rate(session, principal.environment_id, rate_id)
    return existing(found, "tax rate", rate_id)


def search_tax_rates(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[TaxRate], int]:
    if filters.get("scope"):
        _choice(filters["scope"], SCOPES, "scope")
    q = repository.TaxRateQuery(**filters)
    return repository.search(session, principal.environment_id, q, limit, offset)


def update_tax_rate(
    session: Session, principal: Principal, rate_id: str, changes: TaxRateChanges
) -> TaxRate:
    rate = get_tax_rate(session, principal, rate_id)
    if rate.status != "published":
        raise InvalidOperation("a deleted tax rate cannot be updated")
    if changes.code is not None:
        rate.code = _code(session, principal, changes.code, rate.id)
    if changes.name is not None:
        if not changes.name.strip():
            raise InvalidRequest("name must not be empty", field="name")
        rate.name = changes.name.strip()
    if changes.description is not None:
        rate.description = changes.description
    if changes.tax_rate_status is not None:
        rate.tax_rate_status = _choice(changes.tax_rate_status, RATE_STATUSES, "tax_rate_status")
    if changes.metadata is not None:
        rate.metadata_ = dict(changes.metadata)
    rate.updated_by = principal.user_id
    rate.updated_at = utcnow()
    flush_unique(session, TAKEN)
    return rate


def delete_tax_rate(session: Session, principal: Principal, rate_id: str) -> None:
    rate = get_tax_rate(session, principal, rate_id)
    if rate.status != "published":
        raise InvalidOperation("the tax rate is already deleted")
    rate.status = "archived"
    rate.updated_at = utcnow()
    session.flush()


def rates_by_id(session: Session, ids: Sequence[str]) -> dict[str, TaxRate]:
    return repository.rates_by_id(session, sorted(set(ids)))
