"""/v1 prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import Page, WireModel, decimal_text, list_response, split_csv
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant
from meterline.pricing import commands
from meterline.pricing import prices as price_service
from meterline.pricing.charge_models.tiers import MAX_TIERS
from meterline.pricing.display import display_amount
from meterline.pricing.models import Price

router = APIRouter(tags=["prices"])

AmountIn = Decimal | str | None


class TierIn(WireModel):
    up_to: money.WholeQuantity | None = None
    unit_amount: AmountIn = None
    flat_amount: AmountIn = None


class TransformIn(WireModel):
    divide_by: money.WholeQuantity | None = None
    round: str | None = None


class PercentageIn(WireModel):
    """Meterline extension: the settings of a ``billing_model: "PERCENTAGE"`` price."""

    rate: AmountIn = Field(default=None, description="Percent of each event's amount, 0 to 100.")
    fixed_amount: AmountIn = Field(default=None, description="Charged once per paid event.")
    free_units_per_events: money.WholeQuantity | None = Field(
        default=None, description="The first N events of the period are free."
    )
    free_units_per_total_aggregation: AmountIn = Field(
        default=None, description="The first X of the period's summed amount is free."
    )
    per_transaction_min_amount: AmountIn = Field(
        default=None, description="Each paid event's charge is at least this."
    )
    per_transaction_max_amount: AmountIn = Field(
        default=None, description="Each paid event's charge is at most this."
    )

    def command(self) -> commands.PercentageInput:
        return commands.PercentageInput(**self.model_dump())


class PriceFields(WireModel):
    amount: AmountIn = None
    billing_model: str | None = None
    tier_mode: str | None = None
    tiers: list[TierIn] | None = Field(default=None, max_length=MAX_TIERS)
    transform_quantity: TransformIn | None = None
    percentage: PercentageIn | None = Field(
        default=None,
        description="Meterline extension: the settings of a PERCENTAGE price (docs/billing.md).",
    )
    lookup_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    display_name: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)

    def pricing(self) -> commands.PricingInput:
        return commands.PricingInput(
            billing_model=self.billing_model,
            amount=self.amount,
            tier_mode=self.tier_mode,
            tiers=None
            if self.tiers is None
            else tuple(commands.TierInput(**t.model_dump()) for t in self.tiers),
            transform_quantity=None
            if self.transform_quantity is None
            else commands.TransformInput(**self.transform_quantity.model_dump()),
            percentage=None if self.percentage is None else self.percentage.command(),
        )


class PriceUnitConfigIn(WireModel):
    price_unit: str = Field(min_length=1, max_length=20)
    amount: AmountIn = None
    price_unit_tiers: list[TierIn] | None = Field(default=None, max_length=MAX_TIERS)

    def command(self) -> commands.PriceUnitInput:
        return commands.PriceUnitInput(
            price_unit=self.price_unit,
            amount=self.amount,
            price_unit_tiers=None
            if self.price_unit_tiers is None
            else tuple(commands.TierInput(**t.model_dump()) for t in self.price_unit_tiers),
        )


class PriceIn(PriceFields):
    # min_quantity and a start_date are stored but not applied by billing: refused.
    unsupported = frozenset(
        {
            "bucket_size",
            "filter_values",
            "min_quantity",
            "start_date",
        }
    )
    price_unit_config: PriceUnitConfigIn | None = None
    group_id: str | None = Field(default=None, max_length=64)
    entity_type: str | None = None
    entity_id: str | None = Field(default=None, max_length=64)
    plan_id: str | None = Field(default=None, max_length=64)
    type: str | None = None
    price_unit_type: str | None = None
    currency: str | None = Field(default=None, max_length=10)
    billing_period: str | None = None
    billing_period_count: int | None = None
    invoice_cadence: str | None = None
    meter_id: str | None = Field(default=None, max_length=64)
    trial_period_days: int | None = None
    min_quantity: AmountIn = None
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None

    def command(self) -> commands.CreatePrice:
        fields = self.model_dump(
            exclude=set(commands.PricingInput.__dataclass_fields__) | {"price_unit_config"}
        )
        config = None if self.price_unit_config is None else self.price_unit_config.command()
        return commands.CreatePrice(pricing=self.pricing(), price_unit_config=config, **fields)


class PriceBulkIn(WireModel):
    items: list[PriceIn] = Field(min_length=1, max_length=100)


class PriceUpdate(PriceFields):
    # A future effective_from is not applied by billing (new subscriptions would see both
    # versions until then): refused.
    unsupported = frozenset(
        {"bucket_size", "effective_from", "group_id", "price_unit_amount", "price_unit_tiers"}
    )
    effective_from: OptionalInstant = None

    def command(self) -> commands.UpdatePrice:
        return commands.UpdatePrice(
            pricing=self.pricing(),
            effective_from=self.effective_from,
            lookup_key=self.lookup_key,
            description=self.description,
            display_name=self.display_name,
            metadata=self.metadata,
        )


class PriceDelete(WireModel):
    end_date: OptionalInstant = None


class PriceSearch(FilterQuery):
    subscription_id: str | None = Field(default=None, max_length=64)
    parent_price_id: str | None = Field(default=None, max_length=64)
    start_date_lt: OptionalInstant = None
    updated_after: OptionalInstant = None
    price_ids: list[str] | None = Field(default=None, max_length=1000)
    plan_ids: list[str] | None = Field(default=None, max_length=1000)
    entity_type: str | None = None
    entity_ids: list[str] | None = Field(default=None, max_length=1000)
    meter_ids: list[str] | None = Field(default=None, max_length=1000)
    billing_periods: list[str] | None = Field(default=None, max_length=10)
    allow_expired_prices: bool = False


def price_out(price: Price) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": price.id,
        "amount": decimal_text(price.amount),
        "display_amount": display_amount(price.amount, price.currency),
        "currency": price.currency,
        "price_unit_type": price.price_unit_type,
        "price_unit_id": price.price_unit_id,
        "price_unit": price.price_unit,
        "price_unit_amount": decimal_text(price.price_unit_amount),
        "price_unit_tiers": price.price_unit_tiers,
        "conversion_rate": decimal_text(price.conversion_rate),
        "group_id": price.group_id,
        "type": price.type,
        "billing_period": price.billing_period,
        "billing_period_count": price.billing_period_count,
        "billing_model": price.billing_model,
        "billing_cadence": "RECURRING",
        "invoice_cadence": price.invoice_cadence,
        "trial_period_days": price.trial_period_days,
        "tier_mode": price.tier_mode,
        "tiers": price.tiers,
        "transform_quantity": price.transform_quantity,
        "percentage": price.percentage,
        "meter_id": price.meter_id,
        "lookup_key": price.lookup_key,
        "description": price.description,
        "display_name": price.display_name,
        "min_quantity": decimal_text(price.min_quantity),
        "metadata": price.metadata_ or {},
        "entity_type": price.entity_type,
        "entity_id": price.entity_id,
        "parent_price_id": price.parent_price_id,
        "start_date": iso(price.start_date),
        "end_date": iso(price.end_date),
        "environment_id": price.environment_id,
        "status": price.status,
        "created_at": iso(price.created_at),
        "updated_at": iso(price.updated_at),
    }
    if price.entity_type == "PLAN":
        body["plan_id"] = price.entity_id
    return {k: v for k, v in body.items() if v is not None}


@router.post("/prices", status_code=201, summary="Create a price")
def create_price(body: PriceIn, principal: Vendor, session: WriteSession) -> Response:
    [price] = price_service.create_prices(session, principal, [body.command()], bulk=False)
    return json_response(price_out(price), 201)


@router.post("/prices/bulk", status_code=201, summary="Create 1 to 100 prices, all or nothing")
def create_prices_bulk(body: PriceBulkIn, principal: Vendor, session: WriteSession) -> Response:
    prices = price_service.create_prices(
        session, principal, [i.command() for i in body.items], bulk=True
    )
    return json_response({"items": [price_out(p) for p in prices]}, 201)


@router.post("/prices/search", summary="Search prices")
def search_prices(body: PriceSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    found, total = price_service.search_prices(
        session,
        principal,
        **body.terms(),
        price_ids=body.price_ids,
        plan_ids=body.plan_ids,
        entity_type=body.entity_type,
        entity_ids=body.entity_ids,
        meter_ids=body.meter_ids,
        billing_periods=body.billing_periods,
        allow_expired=body.allow_expired_prices,
        subscription_id=body.subscription_id,
        parent_price_id=body.parent_price_id,
        start_date_lt=body.start_date_lt,
        updated_after=body.updated_after,
    )
    return list_response([price_out(p) for p in found], total, body)


@router.get("/prices", summary="List prices")
def list_prices(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    status: str | None = None,
    plan_ids: list[str] | None = Query(None),
    price_ids: list[str] | None = Query(None),
    entity_type: str | None = None,
    entity_ids: list[str] | None = Query(None),
    meter_ids: list[str] | None = Query(None),
    sort: str | None = None,
    order: str | None = None,
) -> Response:
    q = PriceSearch(
        **dict(page),
        status=status,
        plan_ids=split_csv(plan_ids),
        price_ids=split_csv(price_ids),
        entity_type=entity_type,
        entity_ids=split_csv(entity_ids),
        meter_ids=split_csv(meter_ids),
        sort=sort,
        order=order,
    )
    return search_prices(q, principal, session)


@router.get("/prices/lookup/{lookup_key}", summary="Get a price by lookup key")
def get_price_by_lookup_key(lookup_key: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(
        price_out(price_service.get_price_by_lookup_key(session, principal, lookup_key))
    )


@router.get("/prices/{price_id}", summary="Get a price")
def get_price(price_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(price_out(price_service.get_price(session, principal, price_id)))


@router.put("/prices/{price_id}", summary="Update a price (pricing changes make a new version)")
def update_price(
    price_id: str, body: PriceUpdate, principal: Vendor, session: WriteSession
) -> Response:
    return json_response(
        price_out(price_service.update_price(session, principal, price_id, body.command()))
    )


@router.delete("/prices/{price_id}", summary="Terminate a price (sets end_date)")
def delete_price(
    price_id: str, principal: Vendor, session: WriteSession, body: PriceDelete | None = None
) -> Response:
    end_date = body.end_date if body else None
    price_service.terminate_price(session, principal, price_id, end_date)
    return json_response({"message": "price deleted successfully"})
