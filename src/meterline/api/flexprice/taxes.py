"""/v1 tax rates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import (
    ListPage,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant
from meterline.taxes import service as taxes
from meterline.taxes.models import TaxRate

router = APIRouter(tags=["taxes"])


class TaxRateIn(WireModel):
    code: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    percentage_value: money.Amount | None = None
    tax_rate_type: str | None = Field(default=None, max_length=20)
    scope: str | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class TaxRateUpdate(WireModel):
    code: str | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    tax_rate_status: str | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class TaxRateSearch(FilterQuery):
    taxrate_ids: list[str] | None = Field(default=None, max_length=1000)
    taxrate_codes: list[str] | None = Field(default=None, max_length=1000)
    scope: str | None = Field(default=None, max_length=20)


def tax_rate_out(rate: TaxRate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rate.id,
        "code": rate.code,
        "name": rate.name,
        "description": rate.description,
        "tax_rate_type": rate.tax_rate_type,
        "percentage_value": decimal_text(rate.percentage_value),
        "scope": rate.scope,
        "tax_rate_status": rate.tax_rate_status,
        "metadata": rate.metadata_ or {},
        "status": rate.status,
        "environment_id": rate.environment_id,
        "created_by": rate.created_by,
        "updated_by": rate.updated_by,
        "created_at": iso(rate.created_at),
        "updated_at": iso(rate.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


@router.post("/taxes/rates", status_code=201, summary="Create a tax rate")
def create_tax_rate(body: TaxRateIn, principal: Vendor, session: WriteSession) -> Response:
    rate = taxes.create_tax_rate(session, principal, taxes.NewTaxRate(**body.model_dump()))
    return json_response(tax_rate_out(rate), 201)


@router.get("/taxes/rates", summary="List tax rates")
def list_tax_rates(
    principal: Vendor,
    session: ReadSession,
    page: ListPage,
    expand: str | None = None,
    scope: str | None = None,
    start_time: OptionalInstant = None,
    end_time: OptionalInstant = None,
    taxrate_ids: list[str] | None = Query(None),
    taxrate_codes: list[str] | None = Query(None),
) -> Response:
    q = TaxRateSearch(
        **dict(page),
        expand=expand,
        scope=scope,
        start_time=start_time,
        end_time=end_time,
        taxrate_ids=split_csv(taxrate_ids),
        taxrate_codes=split_csv(taxrate_codes),
    )
    refuse_expand(q.expand)
    found, total = taxes.search_tax_rates(
        session,
        principal,
        **q.terms(),
        ids=q.taxrate_ids,
        codes=q.taxrate_codes,
        scope=q.scope,
    )
    return list_response([tax_rate_out(r) for r in found], total, q)


@router.get("/taxes/rates/{rate_id}", summary="Get a tax rate")
def get_tax_rate(rate_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(tax_rate_out(taxes.get_tax_rate(session, principal, rate_id)))


@router.put("/taxes/rates/{rate_id}", summary="Update a tax rate (not its percentage)")
def update_tax_rate(
    rate_id: str, body: TaxRateUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = taxes.TaxRateChanges(**body.model_dump())
    return json_response(tax_rate_out(taxes.update_tax_rate(session, principal, rate_id, changes)))


@router.delete("/taxes/rates/{rate_id}", status_code=204, summary="Delete (archive) a tax rate")
def delete_tax_rate(rate_id: str, principal: Vendor, session: WriteSession) -> Response:
    taxes.delete_tax_rate(session, principal, rate_id)
    return Response(status_code=204)
