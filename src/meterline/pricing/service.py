"""Plans and prices: the catalogue of what things cost.

Price rules (reference §4.5), with two deliberate differences from upstream: TIERED without
``tier_mode`` is rejected (upstream silently prices it at 0), and tiers must be given in
increasing ``up_to`` order with only the last one unbounded (upstream sorts them silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.catalog import service as catalog
from meterline.db.base import new_id, utcnow
from meterline.entitlements import repository as grants
from meterline.kernel import money
from meterline.kernel.errors import AlreadyExists, InvalidRequest, NotFound
from meterline.kernel.errors import InvalidOperation as InvalidStateOperation
from meterline.pricing import repository
from meterline.pricing.charges import BILLING_MODELS, ROUNDING, TIER_MODES, PriceSpec, Tier
from meterline.pricing.models import Plan, Price
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
PRICE_ENTITY_TYPES = ("PLAN", "SUBSCRIPTION")
PRICE_UNIT_TYPES = ("FIAT",)
MAX_PRICES_PER_ENTITY = 5000
MAX_TIERS = 100
# Fields whose change makes a new price version (the old one is end-dated).
PRICING_FIELDS = ("amount", "billing_model", "tier_mode", "tiers", "transform_quantity")
IN_PLACE_FIELDS = ("lookup_key", "description", "display_name", "metadata")


def choice(value: Any, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return str(value)


def decimal_of(value: Any, field: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidRequest(f"{field} must be a decimal number", field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRequest(f"{field} must be a decimal number", field=field) from exc
    reason = money.problem(number)
    if reason is not None:
        # Outside NUMERIC(38, 12): PostgreSQL would overflow, or store 0.0000000000004 as 0.
        raise InvalidRequest(f"{field} {reason}", field=field)
    if minimum is not None and number < minimum:
        raise InvalidRequest(f"{field} must not be negative", field=field)
    return number


def currency_of(value: Any, field: str = "currency") -> str:
    text = str(value or "").strip()
    if not money.is_currency(text):
        raise InvalidRequest(f"{field} must be an ISO 4217 currency code", field=field)
    return text


# ---- price specs ------------------------------------------------------------------------


def price_spec(price: Price) -> PriceSpec:
    """The pure-maths view of a stored price."""
    transform = price.transform_quantity or {}
    return PriceSpec(
        billing_model=price.billing_model,
        amount=price.amount,
        tier_mode=price.tier_mode,
        tiers=tuple(
            Tier(
                up_to=None if t.get("up_to") is None else Decimal(t["up_to"]),
                unit_amount=Decimal(t["unit_amount"]),
                flat_amount=Decimal(t.get("flat_amount") or 0),
            )
            for t in price.tiers or []
        ),
        divide_by=int(transform.get("divide_by") or 1),
        round=str(transform.get("round") or "up"),
    )


def _tiers(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("TIERED prices need at least one tier", field="tiers")
    if len(raw) > MAX_TIERS:
        raise InvalidRequest(f"at most {MAX_TIERS} tiers", field="tiers")
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for index, tier in enumerate(raw):
        where = f"tiers[{index}]"
        up_to = tier.get("up_to")
        if up_to is None and index != len(raw) - 1:
            raise InvalidRequest("only the last tier may have no up_to", field=f"{where}.up_to")
        if up_to is not None:
            if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 1:
                raise InvalidRequest("up_to must be a positive integer", field=f"{where}.up_to")
            if previous is not None and up_to <= previous:
                raise InvalidRequest(
                    "tiers must be in increasing up_to order", field=f"{where}.up_to"
                )
            previous = up_to
        unit = decimal_of(tier.get("unit_amount"), f"{where}.unit_amount")
        flat_raw = tier.get("flat_amount")
        flat = None if flat_raw in (None, "") else decimal_of(flat_raw, f"{where}.flat_amount")
        entry: dict[str, Any] = {"up_to": up_to, "unit_amount": _text(unit)}
        if flat is not None:
            entry["flat_amount"] = _text(flat)
        out.append(entry)
    return out


def _text(value: Decimal) -> str:
    return money.decimal_text(value)


@dataclass
class PricingFields:
    amount: Decimal
    billing_model: str
    tier_mode: str | None
    tiers: list[dict[str, Any]] | None
    transform_quantity: dict[str, Any] | None


def _pricing(data: Mapping[str, Any]) -> PricingFields:
    model = choice(data.get("billing_model"), BILLING_MODELS, "billing_model")
    amount = Decimal(0)
    tier_mode = None
    tiers = None
    transform = None
    if model in ("FLAT_FEE", "PACKAGE"):
        if data.get("amount") in (None, ""):
            raise InvalidRequest(f"amount is required for {model} prices", field="amount")
        amount = decimal_of(data.get("amount"), "amount")
    if model == "PACKAGE":
        raw = data.get("transform_quantity") or {}
        divide_by = raw.get("divide_by")
        if isinstance(divide_by, bool) or not isinstance(divide_by, int) or divide_by < 1:
            raise InvalidRequest(
                "PACKAGE prices need transform_quantity.divide_by of at least 1",
                field="transform_quantity.divide_by",
            )
        rounding = choice(raw.get("round") or "up", ROUNDING, "transform_quantity.round")
        transform = {"divide_by": divide_by, "round": rounding}
    if model == "TIERED":
        if not data.get("tier_mode"):
            raise InvalidRequest("TIERED prices need tier_mode VOLUME or SLAB", field="tier_mode")
        tier_mode = choice(data.get("tier_mode"), TIER_MODES, "tier_mode")
        tiers = _tiers(data.get("tiers"))
    return PricingFields(amount, model, tier_mode, tiers, transform)


# ---- plans ------------------------------------------------------------------------------


def get_plan(session: Session, principal: Principal, plan_id: str) -> Plan:
    plan = repository.plan(session, principal.environment_id, plan_id)
    if plan is None:
        raise NotFound("plan", plan_id)
    return plan


def _check_plan_lookup_key(
    session: Session, principal: Principal, lookup_key: str | None, own_id: str | None = None
) -> None:
    if not lookup_key:
        return
    other = repository.plan_by_lookup_key(session, principal.environment_id, lookup_key)
    if other is not None and other.id != own_id:
        raise AlreadyExists(
            "A plan with this lookup_key already exists", details={"lookup_key": lookup_key}
        )


def create_plan(
    session: Session,
    principal: Principal,
    *,
    name: str,
    lookup_key: str | None = None,
    description: str | None = None,
    display_order: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Plan:
    if not name or not name.strip():
        raise InvalidRequest("name is required", field="name")
    _check_plan_lookup_key(session, principal, lookup_key)
    plan = Plan(
        id=new_id("plan"),
        environment_id=principal.environment_id,
        name=name.strip(),
        lookup_key=lookup_key or None,
        description=description,
        display_order=display_order or 0,
        metadata_=dict(metadata or {}),
    )
    session.add(plan)
    _flush_unique(session, "A plan with this lookup_key already exists")
    return plan


def update_plan(
    session: Session, principal: Principal, plan_id: str, changes: Mapping[str, Any]
) -> Plan:
    plan = get_plan(session, principal, plan_id)
    if plan.status != "published":
        raise InvalidStateOperation("an archived plan cannot be updated")
    if "name" in changes and changes["name"] is not None:
        if not str(changes["name"]).strip():
            raise InvalidRequest("name must not be empty", field="name")
        plan.name = str(changes["name"]).strip()
    if "lookup_key" in changes and changes["lookup_key"] is not None:
        _check_plan_lookup_key(session, principal, changes["lookup_key"], plan.id)
        plan.lookup_key = changes["lookup_key"] or None
    if "description" in changes and changes["description"] is not None:
        plan.description = changes["description"]
    if "display_order" in changes and changes["display_order"] is not None:
        plan.display_order = int(changes["display_order"])
    if "metadata" in changes and changes["metadata"] is not None:
        plan.metadata_ = dict(changes["metadata"])
    plan.updated_at = utcnow()
    _flush_unique(session, "A plan with this lookup_key already exists")
    return plan


def archive_plan(session: Session, principal: Principal, plan_id: str) -> None:
    plan = get_plan(session, principal, plan_id)
    if plan.status == "archived":
        raise InvalidStateOperation("the plan is already archived")
    plan.status = "archived"
    plan.updated_at = utcnow()
    session.flush()


def search_plans(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Plan], int]:
    """Plans matching every filter given (``repository.PlanQuery``)."""
    q = repository.PlanQuery(**filters)
    return repository.search_plans(session, principal.environment_id, q, limit, offset)


def plan_prices(session: Session, principal: Principal, plan_ids: Sequence[str]) -> list[Price]:
    return repository.active_prices(session, principal.environment_id, "PLAN", plan_ids, utcnow())


def clone_plan(
    session: Session,
    principal: Principal,
    plan_id: str,
    *,
    name: str | None,
    lookup_key: str | None,
    description: str | None = None,
    display_order: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Plan:
    """A new plan with copies of the source's active prices and entitlements."""
    source = get_plan(session, principal, plan_id)
    if not name:
        raise InvalidRequest("name is required", field="name")
    clone = create_plan(
        session,
        principal,
        name=name,
        lookup_key=lookup_key,
        description=description if description is not None else source.description,
        display_order=display_order if display_order is not None else source.display_order,
        metadata=metadata if metadata is not None else source.metadata_,
    )
    now = utcnow()
    for price in plan_prices(session, principal, [source.id]):
        session.add(
            Price(
                **{
                    **_price_columns(price),
                    "id": new_id("price"),
                    "entity_id": clone.id,
                    "lookup_key": None,
                    "parent_price_id": None,
                    "start_date": now,
                }
            )
        )
    for grant in grants.for_entities(session, principal.environment_id, "PLAN", [source.id]):
        grants.add_copy(session, grant, entity_type="PLAN", entity_id=clone.id)
    session.flush()
    return clone


# ---- prices -----------------------------------------------------------------------------


def _price_columns(price: Price) -> dict[str, Any]:
    return {
        column.key: getattr(price, column.key)
        for column in Price.__mapper__.column_attrs
        if column.key not in ("created_at", "updated_at")
    }


def get_price(session: Session, principal: Principal, price_id: str) -> Price:
    price = repository.price(session, principal.environment_id, price_id)
    if price is None:
        raise NotFound("price", price_id)
    return price


def get_price_by_lookup_key(session: Session, principal: Principal, lookup_key: str) -> Price:
    price = repository.price_by_lookup_key(session, principal.environment_id, lookup_key)
    if price is None:
        raise NotFound("price", lookup_key)
    return price


def _entity(session: Session, principal: Principal, entity_type: str, entity_id: str) -> None:
    if entity_type == "PLAN":
        plan = get_plan(session, principal, entity_id)
        if plan.status != "published":
            raise InvalidRequest("the plan is archived", field="entity_id")
    elif subscriptions.subscription(session, principal.environment_id, entity_id) is None:
        raise NotFound("subscription", entity_id)


def _optional_int(data: Mapping[str, Any], field: str, default: int, minimum: int) -> int:
    value = data.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequest(f"{field} must be an integer of at least {minimum}", field=field)
    return value


def build_price(
    session: Session, principal: Principal, data: Mapping[str, Any], *, index: str = ""
) -> Price:
    """Validate one create-price body and return the unsaved row (bulk creates use it)."""
    try:
        return _build_price(session, principal, data)
    except InvalidRequest as exc:
        if index and exc.field:
            raise InvalidRequest(
                exc.message,
                field=f"{index}.{exc.field}",
                details={k: v for k, v in exc.details.items() if k != "field"},
            ) from exc
        raise


def _build_price(session: Session, principal: Principal, data: Mapping[str, Any]) -> Price:
    entity_type = data.get("entity_type")
    entity_id = data.get("entity_id")
    if data.get("plan_id") and not entity_id:
        entity_type, entity_id = entity_type or "PLAN", data["plan_id"]
    if not entity_id:
        raise InvalidRequest("entity_id (or plan_id) is required", field="entity_id")
    entity_type = choice(entity_type or "PLAN", PRICE_ENTITY_TYPES, "entity_type")
    price_type = choice(data.get("type"), PRICE_TYPES, "type")
    choice(data.get("price_unit_type") or "FIAT", PRICE_UNIT_TYPES, "price_unit_type")
    currency = currency_of(data.get("currency"))
    period = choice(data.get("billing_period"), PRICE_BILLING_PERIODS, "billing_period")
    count = _optional_int(data, "billing_period_count", 1, 1)
    cadence = choice(data.get("invoice_cadence"), INVOICE_CADENCES, "invoice_cadence")
    if period == "ONETIME" and cadence != "ADVANCE":
        raise InvalidRequest("ONETIME prices are invoiced in ADVANCE", field="invoice_cadence")
    pricing = _pricing(data)
    meter_id = data.get("meter_id") or None
    if price_type == "USAGE":
        if not meter_id:
            raise InvalidRequest("USAGE prices need a meter_id", field="meter_id")
        meter = catalog.get_meter(session, principal, meter_id)
        if meter.status != "published":
            raise InvalidRequest("the meter is not published", field="meter_id")
        if period == "ONETIME":
            raise InvalidRequest("USAGE prices cannot be ONETIME", field="billing_period")
    elif meter_id:
        raise InvalidRequest("only USAGE prices have a meter_id", field="meter_id")
    trial_days = _optional_int(data, "trial_period_days", 0, 0)
    if trial_days and (price_type != "FIXED" or period == "ONETIME"):
        raise InvalidRequest(
            "trial_period_days is only for recurring FIXED prices", field="trial_period_days"
        )
    min_quantity = data.get("min_quantity")
    if min_quantity is not None:
        if price_type == "USAGE":
            raise InvalidRequest("min_quantity is not for USAGE prices", field="min_quantity")
        min_quantity = decimal_of(min_quantity, "min_quantity")
    _entity(session, principal, entity_type, entity_id)
    start_date = data.get("start_date") or utcnow()
    end_date = data.get("end_date")
    if end_date is not None and end_date <= start_date:
        raise InvalidRequest("end_date must be after start_date", field="end_date")
    return Price(
        id=new_id("price"),
        environment_id=principal.environment_id,
        entity_type=entity_type,
        entity_id=entity_id,
        type=price_type,
        price_unit_type="FIAT",
        currency=currency,
        amount=pricing.amount,
        billing_model=pricing.billing_model,
        billing_period=period,
        billing_period_count=count,
        invoice_cadence=cadence,
        tier_mode=pricing.tier_mode,
        tiers=pricing.tiers,
        transform_quantity=pricing.transform_quantity,
        meter_id=meter_id,
        lookup_key=data.get("lookup_key") or None,
        trial_period_days=trial_days,
        min_quantity=min_quantity,
        description=data.get("description"),
        display_name=data.get("display_name"),
        metadata_=dict(data.get("metadata") or {}),
        start_date=start_date,
        end_date=end_date,
    )


def create_prices(
    session: Session, principal: Principal, bodies: Sequence[Mapping[str, Any]], *, bulk: bool
) -> list[Price]:
    """Create one or more prices, all or nothing."""
    built: list[Price] = []
    keys: set[str] = set()
    for position, data in enumerate(bodies):
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
    _flush_unique(session, "A price with this lookup_key already exists")
    return built


def update_price(
    session: Session, principal: Principal, price_id: str, changes: Mapping[str, Any]
) -> Price:
    """In-place edits of descriptive fields; a pricing change makes a new version."""
    price = get_price(session, principal, price_id)
    now = utcnow()
    if price.status != "published" or (price.end_date is not None and price.end_date <= now):
        raise InvalidStateOperation("a terminated price cannot be updated")
    pricing_change = any(changes.get(f) is not None for f in PRICING_FIELDS)
    target = price
    if pricing_change:
        merged = {
            "billing_model": price.billing_model,
            "amount": price.amount,
            "tier_mode": price.tier_mode,
            "tiers": price.tiers,
            "transform_quantity": price.transform_quantity,
        }
        merged.update({k: v for k, v in changes.items() if k in PRICING_FIELDS and v is not None})
        if (
            changes.get("billing_model") is not None
            and changes["billing_model"] != price.billing_model
        ):
            for field in ("tier_mode", "tiers", "transform_quantity"):
                if changes.get(field) is None:
                    merged[field] = None
        pricing = _pricing(merged)
        effective = now
        if changes.get("effective_from"):
            effective = changes["effective_from"]
            if effective < now:
                raise InvalidRequest(
                    "effective_from must not be in the past", field="effective_from"
                )
        target = Price(
            **{
                **_price_columns(price),
                "id": new_id("price"),
                "amount": pricing.amount,
                "billing_model": pricing.billing_model,
                "tier_mode": pricing.tier_mode,
                "tiers": pricing.tiers,
                "transform_quantity": pricing.transform_quantity,
                "parent_price_id": price.id,
                "start_date": effective,
            }
        )
        price.end_date = effective
        price.lookup_key = None  # the lookup key moves to the current version
        price.updated_at = now
        session.flush()
        session.add(target)
    if changes.get("lookup_key") is not None:
        other = repository.price_by_lookup_key(
            session, principal.environment_id, changes["lookup_key"]
        )
        if other is not None and other.id not in (price.id, target.id):
            raise AlreadyExists("A price with this lookup_key already exists")
        target.lookup_key = changes["lookup_key"] or None
    for field in ("description", "display_name"):
        if changes.get(field) is not None:
            setattr(target, field, changes[field])
    if changes.get("metadata") is not None:
        target.metadata_ = dict(changes["metadata"])
    target.updated_at = now
    _flush_unique(session, "A price with this lookup_key already exists")
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


def _flush_unique(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise AlreadyExists(message) from exc


def is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text
