"""Prices: create (one or a bulk, all or nothing), version, terminate and search.

Price rules (reference §4.5); the pricing fields are validated by the charge model the
price names (``charge_models``). Pricing changes never edit a price in place: a new version
is created and the old one end-dated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import repository as addon_repository
from meterline.catalog import service as catalog
from meterline.costs import repository as costsheet_repository
from meterline.currencies import price_units
from meterline.currencies.models import PriceUnit
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing, set_given
from meterline.groups import service as groups
from meterline.kernel import money
from meterline.kernel.errors import AlreadyExists, InvalidRequest, NotFound
from meterline.kernel.errors import InvalidOperation as InvalidStateOperation
from meterline.pricing import charge_models, repository
from meterline.pricing.charge_models import StoredPricing
from meterline.pricing.charge_models.percentage import Percentage
from meterline.pricing.commands import (
    CreatePrice,
    PercentageInput,
    PricingInput,
    TierInput,
    TransformInput,
    UpdatePrice,
)
from meterline.pricing.fields import choice, currency_of, decimal_of, int_at_least
from meterline.pricing.models import Price
from meterline.pricing.plans import flush_unique, get_plan, price_columns
from meterline.subscriptions import repository as subscriptions

PRICE_TYPES = ("USAGE", "FIXED")
PRICE_BILLING_PERIODS = (
    "DAILY",
    "WEEKLY",
    "MONTHLY",
    "QUARTERLY",
    "HALF_YEARLY",
    "ANNUAL",
    "ONETIME",
)
INVOICE_CADENCES = ("ARREAR", "ADVANCE")
PRICE_ENTITY_TYPES = ("PLAN", "SUBSCRIPTION", "ADDON", "COSTSHEET")
PRICE_UNIT_TYPES = ("FIAT", "CUSTOM")
MAX_PRICES_PER_ENTITY = 5000
# The meter aggregation a PERCENTAGE price reads: a summed amount.
PERCENTAGE_AGGREGATIONS = ("SUM",)


def get_price(session: Session, principal: Principal, price_id: str) -> Price:
    price = repository.price(session, principal.environment_id, price_id)
    return existing(price, "price", price_id)


def get_price_by_lookup_key(session: Session, principal: Principal, lookup_key: str) -> Price:
    price = repository.price_by_lookup_key(session, principal.environment_id, lookup_key)
    return existing(price, "price", lookup_key)


def _entity(session: Session, principal: Principal, entity_type: str, entity_id: str) -> None:
    if entity_type == "PLAN":
        plan = get_plan(session, principal, entity_id)
        if plan.status != "published":
            raise InvalidRequest("the plan is archived", field="entity_id")
    elif entity_type == "ADDON":
        addon = addon_repository.addon(session, principal.environment_id, entity_id)
        if addon is None:
            raise NotFound("addon", entity_id)
        if addon.status != "published":
            raise InvalidRequest("the add-on is deleted", field="entity_id")
    elif entity_type == "COSTSHEET":
        sheet = costsheet_repository.costsheet(session, principal.environment_id, entity_id)
        if sheet is None:
            raise NotFound("costsheet", entity_id)
        if sheet.status != "published":
            raise InvalidRequest("the cost sheet is deleted", field="entity_id")
    elif subscriptions.subscription(session, principal.environment_id, entity_id) is None:
        raise NotFound("subscription", entity_id)


def build_price(
    session: Session, principal: Principal, command: CreatePrice, *, index: str = ""
) -> Price:
    """Validate one create-price command and return the unsaved row (bulk creates use it)."""
    try:
        return _build_price(session, principal, command)
    except InvalidRequest as exc:
        if index and exc.field:
            raise exc.within(index) from exc
        raise


def _build_price(session: Session, principal: Principal, data: CreatePrice) -> Price:
    entity_type = data.entity_type
    entity_id = data.entity_id
    if data.plan_id and not entity_id:
        entity_type, entity_id = entity_type or "PLAN", data.plan_id
    if not entity_id:
        raise InvalidRequest("entity_id (or plan_id) is required", field="entity_id")
    entity_type = choice(entity_type or "PLAN", PRICE_ENTITY_TYPES, "entity_type")
    price_type = choice(data.type, PRICE_TYPES, "type")
    if entity_type == "COSTSHEET" and price_type != "USAGE":
        # A cost sheet prices metered usage (costs.analytics); a fixed cost has no usage.
        raise InvalidRequest("a cost sheet's prices are USAGE prices", field="type")
    unit_type = choice(data.price_unit_type or "FIAT", PRICE_UNIT_TYPES, "price_unit_type")
    currency = currency_of(data.currency)
    pricing_input: PricingInput = data.pricing
    unit_columns: dict[str, Any] = {}
    if data.price_unit_config is not None or unit_type == "CUSTOM":
        pricing_input, unit_columns = _in_price_unit(session, principal, data, currency)
    period = choice(data.billing_period, PRICE_BILLING_PERIODS, "billing_period")
    count = int_at_least(data.billing_period_count, "billing_period_count", 1, 1)
    cadence = choice(data.invoice_cadence, INVOICE_CADENCES, "invoice_cadence")
    if period == "ONETIME" and cadence != "ADVANCE":
        raise InvalidRequest("ONETIME prices are invoiced in ADVANCE", field="invoice_cadence")
    pricing = charge_models.parse(pricing_input)
    meter_id = data.meter_id or None
    if price_type == "USAGE":
        if not meter_id:
            raise InvalidRequest("USAGE prices need a meter_id", field="meter_id")
        meter = catalog.get_meter(session, principal, meter_id)
        if meter.status != "published":
            raise InvalidRequest("the meter is not published", field="meter_id")
        if period == "ONETIME":
            raise InvalidRequest("USAGE prices cannot be ONETIME", field="billing_period")
        if pricing.billing_model == Percentage.billing_model:
            _percentage_meter(meter.aggregation_type, meter.bucket_size, meter.group_by)
    elif meter_id:
        raise InvalidRequest("only USAGE prices have a meter_id", field="meter_id")
    elif pricing.billing_model == Percentage.billing_model:
        raise InvalidRequest("PERCENTAGE prices are USAGE prices", field="type")
    trial_days = int_at_least(data.trial_period_days, "trial_period_days", 0, 0)
    if trial_days and (price_type != "FIXED" or period == "ONETIME"):
        raise InvalidRequest(
            "trial_period_days is only for recurring FIXED prices", field="trial_period_days"
        )
    min_quantity = None
    if data.min_quantity is not None:
        if price_type == "USAGE":
            raise InvalidRequest("min_quantity is not for USAGE prices", field="min_quantity")
        min_quantity = decimal_of(data.min_quantity, "min_quantity")
    _entity(session, principal, entity_type, entity_id)
    start_date = data.start_date or utcnow()
    end_date = data.end_date
    if end_date is not None and end_date <= start_date:
        raise InvalidRequest("end_date must be after start_date", field="end_date")
    group_id = None
    if data.group_id:
        group_id = groups.member_group(session, principal.environment_id, data.group_id, "price")
    return Price(
        id=new_id("price"),
        environment_id=principal.environment_id,
        entity_type=entity_type,
        entity_id=entity_id,
        type=price_type,
        price_unit_type=unit_type,
        group_id=group_id,
        **unit_columns,
        currency=currency,
        billing_period=period,
        billing_period_count=count,
        invoice_cadence=cadence,
        meter_id=meter_id,
        lookup_key=data.lookup_key or None,
        trial_period_days=trial_days,
        min_quantity=min_quantity,
        description=data.description,
        display_name=data.display_name,
        metadata_=dict(data.metadata or {}),
        start_date=start_date,
        end_date=end_date,
        **_pricing_columns(pricing),
    )


CONFIG = "price_unit_config"


def _in_price_unit(
    session: Session, principal: Principal, data: CreatePrice, currency: str
) -> tuple[PricingInput, dict[str, Any]]:
    """A CUSTOM price's pricing in its currency, and its price unit columns.

    The amounts of ``price_unit_config`` are in the unit; each is converted once, exactly,
    to the unit's base currency (``amount × conversion_rate``), which must be the price's
    currency: an invoice line then rounds ``quantity × converted amount`` once, as it
    rounds any price. A converted amount that needs more than the 12 decimal places a
    price keeps is refused rather than rounded."""
    config = data.price_unit_config
    if config is None:
        raise InvalidRequest("a CUSTOM price needs a price_unit_config", field=CONFIG)
    if (data.price_unit_type or "FIAT") != "CUSTOM":
        raise InvalidRequest(
            "a price in a price unit has price_unit_type CUSTOM", field="price_unit_type"
        )
    given = [
        name for name in ("amount", "tiers") if getattr(data.pricing, name) not in (None, "", ())
    ]
    if given:
        raise InvalidRequest(f"a CUSTOM price's {given[0]} comes from {CONFIG}", field=given[0])
    unit = price_units.unit_for_price(session, principal.environment_id, config.price_unit)
    if unit.base_currency != currency.lower():
        raise InvalidRequest(
            f"the price unit {unit.code} converts to {unit.base_currency}, not {currency}",
            field="currency",
            details={"base_currency": unit.base_currency},
        )
    amount = None
    if config.amount not in (None, ""):
        amount = decimal_of(config.amount, f"{CONFIG}.amount")
    tiers = None
    if config.price_unit_tiers is not None:
        tiers = tuple(
            TierInput(
                tier.up_to,
                _unit_amount(tier.unit_amount, f"{CONFIG}.price_unit_tiers[{i}].unit_amount"),
                _unit_amount(tier.flat_amount, f"{CONFIG}.price_unit_tiers[{i}].flat_amount"),
            )
            for i, tier in enumerate(config.price_unit_tiers)
        )
    pricing = replace(
        data.pricing,
        amount=None if amount is None else _converted(amount, unit, f"{CONFIG}.amount"),
        tiers=None
        if tiers is None
        else tuple(
            TierInput(
                t.up_to,
                _converted(t.unit_amount, unit, f"{CONFIG}.price_unit_tiers[{i}].unit_amount"),
                _converted(t.flat_amount, unit, f"{CONFIG}.price_unit_tiers[{i}].flat_amount"),
            )
            for i, t in enumerate(tiers)
        ),
    )
    columns = {
        "price_unit_id": unit.id,
        "price_unit": unit.code,
        "conversion_rate": unit.conversion_rate,
        "price_unit_amount": amount,
        "price_unit_tiers": None
        if tiers is None
        else [
            {
                "up_to": t.up_to,
                "unit_amount": _text(t.unit_amount),
                "flat_amount": _text(t.flat_amount),
            }
            for t in tiers
        ],
    }
    return pricing, columns


def _text(value: Any) -> str | None:
    return None if value is None else money.decimal_text(value)


def _unit_amount(value: Any, field: str) -> Any:
    return None if value in (None, "") else decimal_of(value, field)


def _converted(value: Any, unit: PriceUnit, field: str) -> Any:
    if value is None:
        return None
    converted = money.MONEY_CONTEXT.multiply(value, unit.conversion_rate)
    reason = money.problem(converted)
    if reason is not None:
        raise InvalidRequest(
            f"{field} converted to {unit.base_currency} ({converted}) {reason}",
            field=field,
            details={"conversion_rate": money.decimal_text(unit.conversion_rate)},
        )
    return converted


def _percentage_meter(aggregation: str, bucket_size: str | None, group_by: str | None) -> None:
    # The rate applies to a summed amount, event by event: a bucketed or grouped meter has
    # no single sequence of event amounts to price.
    if aggregation not in PERCENTAGE_AGGREGATIONS or bucket_size or group_by:
        raise InvalidRequest(
            "PERCENTAGE prices need a SUM meter without bucket_size or group_by",
            field="meter_id",
        )


def _pricing_columns(pricing: StoredPricing) -> dict[str, Any]:
    return {
        "amount": pricing.amount,
        "billing_model": pricing.billing_model,
        "tier_mode": pricing.tier_mode,
        "tiers": pricing.tiers,
        "transform_quantity": pricing.transform_quantity,
        "percentage": pricing.percentage,
    }


def create_prices(
    session: Session, principal: Principal, commands: Sequence[CreatePrice], *, bulk: bool
) -> list[Price]:
    """Create one or more prices, all or nothing."""
    built: list[Price] = []
    keys: set[str] = set()
    for position, data in enumerate(commands):
        price = build_price(session, principal, data, index=f"items[{position}]" if bulk else "")
        if price.lookup_key:
            if price.lookup_key in keys or repository.price_by_lookup_key(
                session, principal.environment_id, price.lookup_key
            ):
                raise AlreadyExists(
                    "A price with this lookup_key already exists",
                    details={"lookup_key": price.lookup_key},
                )
            keys.add(price.lookup_key)
        built.append(price)
    now = utcnow()
    for entity_id in {p.entity_id for p in built}:
        added = sum(1 for p in built if p.entity_id == entity_id)
        existing = repository.count_active_prices(session, principal.environment_id, entity_id, now)
        if existing + added > MAX_PRICES_PER_ENTITY:
            raise InvalidRequest(
                f"an entity may have at most {MAX_PRICES_PER_ENTITY} active prices",
                field="entity_id",
            )
    session.add_all(built)
    flush_unique(session, "A price with this lookup_key already exists")
    return built


def _stored_input(price: Price) -> PricingInput:
    """A stored price's pricing as a command (an update merges its changes into it)."""
    transform = price.transform_quantity
    return PricingInput(
        billing_model=price.billing_model,
        amount=price.amount,
        tier_mode=price.tier_mode,
        tiers=None
        if price.tiers is None
        else tuple(
            TierInput(t.get("up_to"), t.get("unit_amount"), t.get("flat_amount"))
            for t in price.tiers
        ),
        transform_quantity=None
        if transform is None
        else TransformInput(transform.get("divide_by"), transform.get("round")),
        percentage=None if price.percentage is None else PercentageInput(**price.percentage),
    )


def _merged(price: Price, changes: PricingInput) -> PricingInput:
    given = {k: v for k, v in vars(changes).items() if v is not None}
    merged = replace(_stored_input(price), **given)
    if changes.billing_model is not None and changes.billing_model != price.billing_model:
        # A new model starts from its own settings only.
        reset = {
            name: None
            for name in ("tier_mode", "tiers", "transform_quantity", "percentage")
            if getattr(changes, name) is None
        }
        merged = replace(merged, **reset)
    return merged


def update_price(
    session: Session, principal: Principal, price_id: str, changes: UpdatePrice
) -> Price:
    """In-place edits of descriptive fields; a pricing change makes a new version."""
    price = get_price(session, principal, price_id)
    now = utcnow()
    if price.status != "published" or (price.end_date is not None and price.end_date <= now):
        raise InvalidStateOperation("a terminated price cannot be updated")
    target = price
    if any(v is not None for v in vars(changes.pricing).values()):
        if price.price_unit_id is not None:
            # Its amounts are in the unit: a change is a new price made in the unit.
            changed = next(k for k, v in vars(changes.pricing).items() if v is not None)
            raise InvalidRequest(
                "a price in a price unit is re-priced by a new price in the unit",
                field=changed,
            )
        pricing = charge_models.parse(_merged(price, changes.pricing))
        if pricing.billing_model == Percentage.billing_model:
            if price.type != "USAGE" or price.meter_id is None:
                raise InvalidRequest("PERCENTAGE prices are USAGE prices", field="billing_model")
            meter = catalog.get_meter(session, principal, price.meter_id)
            _percentage_meter(meter.aggregation_type, meter.bucket_size, meter.group_by)
        effective = now
        if changes.effective_from:
            effective = changes.effective_from
            if effective < now:
                raise InvalidRequest(
                    "effective_from must not be in the past", field="effective_from"
                )
        target = Price(
            **{
                **price_columns(price),
                **_pricing_columns(pricing),
                "id": new_id("price"),
                "parent_price_id": price.id,
                "start_date": effective,
            }
        )
        price.end_date = effective
        price.lookup_key = None  # the lookup key moves to the current version
        price.updated_at = now
        session.flush()
        session.add(target)
    if changes.lookup_key is not None:
        other = repository.price_by_lookup_key(
            session, principal.environment_id, changes.lookup_key
        )
        if other is not None and other.id not in (price.id, target.id):
            raise AlreadyExists("A price with this lookup_key already exists")
        target.lookup_key = changes.lookup_key or None
    set_given(target, description=changes.description, display_name=changes.display_name)
    if changes.metadata is not None:
        target.metadata_ = dict(changes.metadata)
    target.updated_at = now
    flush_unique(session, "A price with this lookup_key already exists")
    return target


def terminate_price(
    session: Session, principal: Principal, price_id: str, end_date: datetime | None
) -> Price:
    price = get_price(session, principal, price_id)
    now = utcnow()
    if price.end_date is not None and price.end_date <= now:
        raise InvalidStateOperation("the price is already terminated")
    when = end_date or now
    if price.start_date is not None and when < price.start_date:
        raise InvalidRequest("end_date must not be before the price's start_date", field="end_date")
    price.end_date = when
    price.updated_at = now
    session.flush()
    return price


def search_prices(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Price], int]:
    """Prices matching every filter given (``repository.PriceQuery``)."""
    q = repository.PriceQuery(**filters)
    return repository.search_prices(session, principal.environment_id, q, limit, offset, utcnow())
