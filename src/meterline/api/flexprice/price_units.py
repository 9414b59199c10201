"""/v1 price units (custom pricing units converted to a fiat currency) and exchange rates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import ListPage, WireModel, decimal_text, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.currencies import fx_rates, price_units
from meterline.currencies.models import FxRate, PriceUnit
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant

router = APIRouter(tags=["price units"])


class PriceUnitIn(WireModel):
    code: str = Field(min_length=1, max_length=price_units.MAX_CODE)
    name: str = Field(min_length=1, max_length=255)
    symbol: str = Field(min_length=1, max_length=10)
    base_currency: str = Field(min_length=1, max_length=3)
    conversion_rate: money.Price = Field(
        description="What one unit is worth in base_currency: greater than 0."
    )
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class PriceUnitUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class PriceUnitSearch(FilterQuery):
    price_unit_ids: list[str] | None = Field(default=None, max_length=1000)


def price_unit_out(unit: PriceUnit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "symbol": unit.symbol,
        "base_currency": unit.base_currency,
        "conversion_rate": decimal_text(unit.conversion_rate),
        "metadata": unit.metadata_ or {},
        "status": unit.status,
        "environment_id": unit.environment_id,
        "created_by": unit.created_by,
        "updated_by": unit.updated_by,
        "created_at": iso(unit.created_at),
        "updated_at": iso(unit.updated_at),
    }


@router.post("/prices/units", status_code=201, summary="Create a price unit")
def create_price_unit(body: PriceUnitIn, principal: Vendor, session: WriteSession) -> Response:
    unit = price_units.create_price_unit(
        session, principal, price_units.NewPriceUnit(**body.model_dump())
    )
    return json_response(price_unit_out(unit), 201)


@router.get("/prices/units", summary="List price units")
def list_price_units(principal: Vendor, session: ReadSession, page: ListPage) -> Response:
    found, total = price_units.search_price_units(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        status=page.status,
        sort=page.sort,
        order=page.order,
    )
    return list_response([price_unit_out(u) for u in found], total, page)


@router.post("/prices/units/search", summary="Search price units")
def query_price_units(
    body: PriceUnitSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    found, total = price_units.search_price_units(
        session, principal, **body.terms(), ids=body.price_unit_ids
    )
    return list_response([price_unit_out(u) for u in found], total, body)


@router.get("/prices/units/code/{unit_code}", summary="Get a price unit by its code")
def get_price_unit_by_code(unit_code: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(price_unit_out(price_units.get_by_code(session, principal, unit_code)))


@router.get("/prices/units/{unit_id}", summary="Get a price unit")
def get_price_unit(unit_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(price_unit_out(price_units.get_price_unit(session, principal, unit_id)))


@router.put("/prices/units/{unit_id}", summary="Update a price unit's name or metadata")
def update_price_unit(
    unit_id: str, body: PriceUnitUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = price_units.PriceUnitChanges(**body.model_dump())
    unit = price_units.update_price_unit(session, principal, unit_id, changes)
    return json_response(price_unit_out(unit))


@router.delete("/prices/units/{unit_id}", summary="Delete (archive) a price unit")
def delete_price_unit(unit_id: str, principal: Vendor, session: WriteSession) -> Response:
    price_units.delete_price_unit(session, principal, unit_id)
    return json_response({"message": "price unit deleted successfully"})


class FxRateIn(WireModel):
    from_currency: str = Field(min_length=1, max_length=3)
    to_currency: str = Field(min_length=1, max_length=3)
    scope: str = Field(min_length=1, max_length=20)
    rate: money.Price | None = Field(
        default=None, description="to_currency per one from_currency: greater than 0."
    )
    scope_id: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=20)
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class FxRateUpdate(WireModel):
    rate: money.Price | None = None
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class FxRateSearch(FilterQuery):
    fx_rate_ids: list[str] | None = Field(default=None, max_length=1000)
    from_currency: str | None = Field(default=None, max_length=3)
    to_currency: str | None = Field(default=None, max_length=3)
    scope: str | None = Field(default=None, max_length=20)
    scope_id: str | None = Field(default=None, max_length=64)


def fx_rate_out(row: FxRate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "from_currency": row.from_currency,
        "to_currency": row.to_currency,
        "rate": decimal_text(row.rate),
        "scope": row.scope,
        "scope_id": row.scope_id,
        "source": row.source,
        "start_date": iso(row.start_date),
        "end_date": iso(row.end_date),
        "metadata": row.metadata_ or {},
        "status": row.status,
        "environment_id": row.environment_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


@router.post("/forex", status_code=201, summary="Create an exchange rate")
def create_fx_rate(body: FxRateIn, principal: Vendor, session: WriteSession) -> Response:
    row = fx_rates.create_fx_rate(session, principal, fx_rates.NewFxRate(**body.model_dump()))
    return json_response(fx_rate_out(row), 201)


@router.post("/forex/query", summary="Search exchange rates")
def query_fx_rates(body: FxRateSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    found, total = fx_rates.search_fx_rates(
        session,
        principal,
        **body.terms(),
        ids=body.fx_rate_ids,
        from_currency=body.from_currency,
        to_currency=body.to_currency,
        scope=body.scope,
        scope_id=body.scope_id,
    )
    return list_response([fx_rate_out(r) for r in found], total, body)


@router.get("/forex/{fx_rate_id}", summary="Get an exchange rate")
def get_fx_rate(fx_rate_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(fx_rate_out(fx_rates.get_fx_rate(session, principal, fx_rate_id)))


@router.put("/forex/{fx_rate_id}", summary="Update an exchange rate")
def update_fx_rate(
    fx_rate_id: str, body: FxRateUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = fx_rates.FxRateChanges(**body.model_dump())
    return json_response(
        fx_rate_out(fx_rates.update_fx_rate(session, principal, fx_rate_id, changes))
    )


@router.delete("/forex/{fx_rate_id}", summary="Delete (archive) an exchange rate")
def delete_fx_rate(fx_rate_id: str, principal: Vendor, session: WriteSession) -> Response:
    fx_rates.delete_fx_rate(session, principal, fx_rate_id)
    return json_response({"message": "fx rate deleted successfully"})
