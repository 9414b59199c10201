"""/v1 tax rates and tax associations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import (
    ListPage,
    Page,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.invoicing.models import Invoice
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant
from meterline.taxes import associations
from meterline.taxes import service as taxes
from meterline.taxes.models import TaxAssociation, TaxRate

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


class TaxAssociationIn(WireModel):
    tax_rate_code: str = Field(min_length=1, max_length=255)
    entity_type: str | None = Field(default=None, max_length=20)
    entity_id: str | None = Field(default=None, max_length=64)
    external_customer_id: str | None = Field(default=None, max_length=255)
    currency: str | None = Field(default=None, max_length=10)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    auto_apply: bool | None = None
    tax_behavior: str | None = Field(default=None, max_length=20)
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class TaxAssociationUpdate(WireModel):
    auto_apply: bool | None = None
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    tax_behavior: str | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


def association_out(association: TaxAssociation, rate: TaxRate | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": association.id,
        "tax_rate_id": association.tax_rate_id,
        "entity_type": association.entity_type,
        "entity_id": association.entity_id,
        "currency": association.currency,
        "priority": association.priority,
        "auto_apply": association.auto_apply,
        "tax_behavior": association.tax_behavior,
        "start_date": iso(association.start_date),
        "end_date": iso(association.end_date),
        "metadata": association.metadata_ or {},
        "status": association.status,
        "environment_id": association.environment_id,
        "created_by": association.created_by,
        "updated_by": association.updated_by,
        "created_at": iso(association.created_at),
        "updated_at": iso(association.updated_at),
    }
    if rate is not None:
        body["tax_rate"] = tax_rate_out(rate)
    return {k: v for k, v in body.items() if v is not None}


def applied_out(session: Session, invoice: Invoice) -> list[dict[str, Any]]:
    """The tax each rate added to ``invoice`` (its ``taxes``)."""
    applied = associations.applied_to(session, invoice.id)
    rates = taxes.rates_by_id(session, [a.tax_rate_id for a in applied])
    out = []
    for row in applied:
        body: dict[str, Any] = {
            "id": row.id,
            "tax_rate_id": row.tax_rate_id,
            "tax_association_id": row.tax_association_id,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "taxable_amount": decimal_text(row.taxable_amount),
            "tax_amount": decimal_text(row.tax_amount),
            "currency": row.currency,
            "tax_behavior": row.tax_behavior,
            "applied_at": iso(row.applied_at),
            "metadata": row.metadata_ or {},
            "status": row.status,
            "environment_id": row.environment_id,
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }
        if row.tax_rate_id in rates:
            body["tax_rate"] = tax_rate_out(rates[row.tax_rate_id])
        out.append({k: v for k, v in body.items() if v is not None})
    return out


@router.post("/taxes/associations", summary="Associate a tax rate with an entity")
def create_tax_association(
    body: TaxAssociationIn, principal: Vendor, session: WriteSession
) -> Response:
    data = associations.NewTaxAssociation(**body.model_dump())
    made = associations.create_association(session, principal, data)
    return json_response(
        association_out(made, associations.rates_of(session, [made]).get(made.tax_rate_id))
    )


@router.get("/taxes/associations", summary="List tax associations")
def list_tax_associations(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    entity_type: str | None = Query(None, max_length=20),
    entity_id: str | None = Query(None, max_length=64),
    external_customer_id: str | None = Query(None, max_length=255),
    tax_rate_id: str | None = Query(None, max_length=64),
) -> Response:
    found, total = associations.list_associations(
        session,
        principal,
        entity_type=entity_type,
        entity_id=entity_id,
        external_customer_id=external_customer_id,
        tax_rate_id=tax_rate_id,
        limit=page.limit,
        offset=page.offset,
    )
    rates = associations.rates_of(session, found)
    return list_response([association_out(a, rates.get(a.tax_rate_id)) for a in found], total, page)


@router.get("/taxes/associations/{association_id}", summary="Get a tax association")
def get_tax_association(association_id: str, principal: Vendor, session: ReadSession) -> Response:
    found = associations.get_association(session, principal, association_id)
    return json_response(
        association_out(found, associations.rates_of(session, [found]).get(found.tax_rate_id))
    )


@router.put("/taxes/associations/{association_id}", summary="Update a tax association")
def update_tax_association(
    association_id: str, body: TaxAssociationUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = associations.TaxAssociationChanges(**body.model_dump())
    found = associations.update_association(session, principal, association_id, changes)
    return json_response(association_out(found, None))


@router.delete("/taxes/associations/{association_id}", summary="Delete a tax association")
def delete_tax_association(
    association_id: str, principal: Vendor, session: WriteSession
) -> Response:
    associations.delete_association(session, principal, association_id)
    found = associations.get_association(session, principal, association_id)
    return json_response(association_out(found, None))
