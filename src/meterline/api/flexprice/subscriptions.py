"""/v1 subscriptions: create, read, change, cancel, usage and entitlements."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import AppSettings, ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.catalog import feature_out
from meterline.api.flexprice.common import (
    ListPage,
    WireModel,
    decimal_text,
    list_response,
    split_csv,
)
from meterline.api.flexprice.coupons import SubscriptionCoupons, redeem_at_creation
from meterline.api.flexprice.customers import customer_out
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.flexprice.invoices import invoice_out
from meterline.api.flexprice.plans import plan_out
from meterline.api.flexprice.prices import price_out
from meterline.api.json import iso, json_response
from meterline.db.base import utcnow
from meterline.entitlements import checks
from meterline.invoicing import failures
from meterline.invoicing import service as invoices
from meterline.invoicing.failure_models import BillingFailure
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.kernel.money import minor_units, round_money
from meterline.kernel.money import total as money_total
from meterline.pricing import repository as plan_repository
from meterline.pricing.display import display_amount
from meterline.subscriptions import cancellation
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.commands import CreateSubscription, SubscriptionChanges
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

router = APIRouter(tags=["subscriptions"])


class OverrideLineItemIn(WireModel):
    """A per-subscription change to one plan price: its quantity (seats on a FIXED price).
    A price override (another amount or model) is not implemented."""

    unsupported = frozenset(
        {
            "amount",
            "billing_model",
            "bucket_size",
            "price_unit_amount",
            "price_unit_tiers",
            "tier_mode",
            "tiers",
            "transform_quantity",
        }
    )
    price_id: str = Field(min_length=1, max_length=64)
    quantity: money.Quantity | None = None


class SubscriptionIn(SubscriptionCoupons):
    unsupported = frozenset(
        {
            "addons",
            "auto_invoice_threshold",
            "checkout",
            "collection_method",
            "commitment_amount",
            "commitment_duration",
            "credit_grants",
            "enable_true_up",
            "fx_rates",
            "gateway_payment_method_id",
            "include_price_ids",
            "inheritance",
            "line_item_commitments",
            "line_item_grouping",
            "line_items",
            "overage_factor",
            "override_entitlements",
            "payment_behavior",
            "payment_terms",
            "phases",
            "proration_behavior",
            "tax_rate_overrides",
            "timezone",
        }
    )
    customer_id: str | None = Field(default=None, max_length=64)
    external_customer_id: str | None = Field(default=None, max_length=255)
    plan_id: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=10)
    billing_period: str | None = None
    billing_period_count: int | None = Field(
        default=None,
        json_schema_extra={"minimum": 1, "maximum": subscriptions.MAX_BILLING_PERIOD_COUNT},
    )
    billing_cycle: str | None = None
    billing_anchor: OptionalInstant = None
    start_date: OptionalInstant = Field(
        default=None,
        description=f"RFC 3339; at most {subscriptions.MAX_BACKDATE.days} days in the past"
        f" and {subscriptions.MAX_START_AHEAD.days} days in the future",
    )
    end_date: OptionalInstant = None
    trial_period_days: int | None = None
    lookup_key: str | None = Field(default=None, max_length=255)
    subscription_status: str | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    override_line_items: list[OverrideLineItemIn] | None = Field(default=None, max_length=100)

    def command(self) -> CreateSubscription:
        fields = self.without_coupons()
        overrides = fields.pop("override_line_items") or []
        quantities: dict[str, Decimal] = {}
        for override in overrides:
            if override.price_id in quantities:
                raise InvalidRequest(
                    "override_line_items names a price twice",
                    field="override_line_items",
                    details={"price_id": override.price_id},
                )
            if override.quantity is None:
                raise InvalidRequest(
                    "override_line_items.quantity is required", field="override_line_items"
                )
            quantities[override.price_id] = override.quantity
        return CreateSubscription(**fields, quantities=quantities or None)


class SubscriptionUpdate(WireModel):
    unsupported = frozenset({"parent_subscription_id"})
    status: str | None = None
    cancel_at: OptionalInstant = None
    cancel_at_period_end: bool | None = None


class ActivateIn(WireModel):
    start_date: OptionalInstant = None


class CancelIn(WireModel):
    cancellation_type: str
    # create_prorations (the default with generate_invoice) or none (docs/billing.md).
    proration_behavior: str | None = Field(default=None, max_length=40)
    cancel_at: OptionalInstant = None
    cancel_immediately_invoice_policy: str | None = None
    # The upstream server's own (misspelt) key; accepted too.
    cancel_immediately_inovice_policy: str | None = None
    reason: str | None = Field(default=None, max_length=1000)


class UsageIn(WireModel):
    subscription_id: str = Field(min_length=1, max_length=64)
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    lifetime_usage: bool = False


class SubscriptionSearch(FilterQuery):
    UNSUPPORTED = ("effective_date_for_update", "with_coupon_associations")

    subscription_ids: list[str] | None = Field(default=None, max_length=1000)
    customer_id: str | None = Field(default=None, max_length=64)
    customer_ids: list[str] | None = Field(default=None, max_length=1000)
    # Meterline invoices every subscription to its own customer (no delegated invoicing).
    invoicing_customer_ids: list[str] | None = Field(default=None, max_length=1000)
    external_customer_id: str | None = Field(default=None, max_length=255)
    plan_id: str | None = Field(default=None, max_length=64)
    subscription_status: list[str] | None = Field(default=None, max_length=10)
    billing_period: list[str] | None = Field(default=None, max_length=10)
    billing_cadence: list[str] | None = Field(default=None, max_length=10)
    subscription_type: list[str] | None = Field(default=None, max_length=10)
    parent_subscription_ids: list[str] | None = Field(default=None, max_length=1000)
    active_at: OptionalInstant = None
    trial_end_due_lte: OptionalInstant = None
    with_line_items: bool | None = None


def line_item_out(item: SubscriptionLineItem, price: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.id,
        "subscription_id": item.subscription_id,
        "customer_id": item.customer_id,
        "entity_id": item.entity_id,
        "entity_type": item.entity_type,
        "plan_display_name": item.plan_display_name,
        "price_id": item.price_id,
        "price_type": item.price_type,
        "meter_id": item.meter_id,
        "meter_display_name": item.meter_display_name,
        "display_name": item.display_name,
        "quantity": decimal_text(item.quantity),
        "currency": item.currency,
        "billing_period": item.billing_period,
        "billing_period_count": item.billing_period_count,
        "invoice_cadence": item.invoice_cadence,
        "start_date": iso(item.start_date),
        "end_date": iso(item.end_date),
        "metadata": item.metadata_ or {},
        "environment_id": item.environment_id,
        "status": item.status,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "addon_association_id": item.addon_association_id,
    }
    if price is not None:
        body["price"] = price_out(price)
    return {k: v for k, v in body.items() if v is not None}


def billing_error_out(failure: BillingFailure) -> dict[str, Any]:
    """Meterline's extension: why the billing clock could not bill the subscription."""
    return {
        "stage": failure.stage,
        "reason": failure.reason,
        "period_start": iso(failure.period_start),
        "period_end": iso(failure.period_end),
        "invoice_id": failure.invoice_id,
        "attempts": failure.attempts,
        "first_failed_at": iso(failure.first_failed_at),
        "last_attempt_at": iso(failure.last_attempt_at),
    }


def subscription_out(
    sub: Subscription,
    items: list[SubscriptionLineItem] | None = None,
    prices: dict[str, Any] | None = None,
    failure: BillingFailure | None = None,
) -> dict[str, Any]:
    now = utcnow()
    period = subscriptions.effective_period(sub, now)
    body: dict[str, Any] = {
        "id": sub.id,
        "lookup_key": sub.lookup_key,
        "customer_id": sub.customer_id,
        "plan_id": sub.plan_id,
        "subscription_status": subscriptions.effective_status(sub, now),
        "currency": sub.currency,
        "billing_anchor": iso(sub.billing_anchor),
        "billing_cycle": sub.billing_cycle,
        "billing_cadence": "RECURRING",
        "billing_period": sub.billing_period,
        "billing_period_count": sub.billing_period_count,
        "start_date": iso(sub.start_date),
        "end_date": iso(sub.end_date),
        "current_period_start": iso(period.start),
        "current_period_end": iso(period.end),
        "cancelled_at": iso(sub.cancelled_at),
        "cancel_at": iso(sub.cancel_at),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "trial_start": iso(sub.trial_start),
        "trial_end": iso(sub.trial_end),
        "timezone": sub.timezone,
        "version": sub.version,
        "metadata": sub.metadata_ or {},
        "pause_status": "active" if sub.subscription_status == "paused" else "none",
        "subscription_type": "standalone",
        "collection_method": "charge_automatically",
        "payment_behavior": "default_active",
        "proration_behavior": "none",
        "environment_id": sub.environment_id,
        "status": sub.status,
        "created_at": iso(sub.created_at),
        "updated_at": iso(sub.updated_at),
    }
    if items is not None:
        body["line_items"] = [line_item_out(i, (prices or {}).get(i.price_id)) for i in items]
    if failure is not None:
        body["billing_error"] = billing_error_out(failure)
    return {k: v for k, v in body.items() if v is not None}


def full_subscription(session: Any, sub: Subscription) -> dict[str, Any]:
    items = subscriptions.line_items_of(session, [sub])[sub.id]
    prices = plan_repository.prices_by_id(session, [i.price_id for i in items])
    failure = failures.open_for_subscriptions(session, [sub.id]).get(sub.id)
    return subscription_out(sub, items, prices, failure)


@router.post("/subscriptions", status_code=201, summary="Subscribe a customer to a plan")
def create_subscription(body: SubscriptionIn, principal: Vendor, session: WriteSession) -> Response:
    sub = subscriptions.create_subscription(session, principal, body.command())
    redeem_at_creation(session, principal, sub, body)
    return json_response(full_subscription(session, sub), 201)


@router.post("/subscriptions/search", summary="Search subscriptions")
def search_subscriptions(
    body: SubscriptionSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    customer_ids = None
    for ids in (body.customer_ids, body.invoicing_customer_ids):
        if ids:
            customer_ids = (
                list(ids) if customer_ids is None else sorted(set(customer_ids) & set(ids))
            )
    found, total = subscriptions.search_subscriptions(
        session,
        principal,
        **body.terms(),
        subscription_ids=body.subscription_ids,
        customer_id=body.customer_id,
        customer_ids=customer_ids,
        external_customer_id=body.external_customer_id,
        plan_id=body.plan_id,
        subscription_statuses=body.subscription_status,
        billing_periods=body.billing_period,
        billing_cadences=body.billing_cadence,
        subscription_types=body.subscription_type,
        parent_subscription_ids=body.parent_subscription_ids,
        active_at=body.active_at,
        trial_end_due_lte=body.trial_end_due_lte,
    )
    items = subscriptions.line_items_of(session, found)
    failed = failures.open_for_subscriptions(session, [s.id for s in found])
    out = [subscription_out(s, items[s.id], failure=failed.get(s.id)) for s in found]
    if body.with_line_items is False:
        for sub in out:
            sub.pop("line_items", None)
    return list_response(out, total, body)


@router.get("/subscriptions", summary="List subscriptions")
def list_subscriptions(
    principal: Vendor,
    session: ReadSession,
    page: ListPage,
    subscription_ids: list[str] | None = Query(None),
    customer_id: str | None = None,
    external_customer_id: str | None = None,
    plan_id: str | None = None,
    subscription_status: list[str] | None = Query(None),
) -> Response:
    q = SubscriptionSearch(
        **dict(page),
        subscription_ids=split_csv(subscription_ids),
        customer_id=customer_id,
        external_customer_id=external_customer_id,
        plan_id=plan_id,
        subscription_status=split_csv(subscription_status),
    )
    return search_subscriptions(q, principal, session)


@router.post(
    "/subscriptions/usage",
    summary="Priced usage of each usage line item (entitlements not applied)",
)
def subscription_usage(body: UsageIn, principal: Vendor, session: ReadSession) -> Response:
    usage = subscriptions.subscription_usage(
        session,
        principal,
        body.subscription_id,
        start=body.start_time,
        end=body.end_time,
        lifetime=body.lifetime_usage,
    )

    units = minor_units(usage.currency)
    # Each charge rounded once (half away from zero, in the currency's minor units); the
    # total is the sum of the rounded charges, so it adds up to what the client sees.
    rounded = [round_money(c.amount, units) for c in usage.charges]
    amount = money_total(rounded)
    charges = [
        {
            "subscription_line_item_id": c.line_item.id,
            "meter_id": c.meter.id,
            "meter_display_name": c.meter.name,
            # Numbers on this endpoint, as upstream (the SDK reads them as floats).
            "quantity": c.quantity,
            "amount": charge_amount,
            "display_amount": display_amount(charge_amount, usage.currency),
            "currency": usage.currency,
            "is_overage": False,
            "overage_factor": 1,
            "price": price_out(c.price),
        }
        for c, charge_amount in zip(usage.charges, rounded, strict=True)
    ]
    return json_response(
        {
            "subscription_id": usage.subscription.id,
            "start_time": iso(usage.start),
            "end_time": iso(usage.end),
            "currency": usage.currency,
            "amount": amount,
            "display_amount": display_amount(amount, usage.currency),
            "charges": charges,
            "commitment_amount": 0,
            "commitment_utilized": 0,
            "overage_amount": 0,
            "overage_factor": 1,
            "has_overage": False,
        }
    )


@router.get("/subscriptions/{subscription_id}", summary="Get a subscription")
def get_subscription(subscription_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(
        full_subscription(
            session, subscriptions.get_subscription(session, principal, subscription_id)
        )
    )


V2_EXPANDS = ("subscription_line_items", "prices", "plan", "customer")


@router.get("/subscriptions/{subscription_id}/v2", summary="Get a subscription (v2, expandable)")
def get_subscription_v2(
    subscription_id: str, principal: Vendor, session: ReadSession, expand: str | None = None
) -> Response:
    """The subscription with its line items and their prices; ``expand`` adds the plan and
    the customer (line items and prices are always there)."""
    wanted = refuse_expand(expand, V2_EXPANDS)
    sub = subscriptions.get_subscription(session, principal, subscription_id)
    body = full_subscription(session, sub)
    if "plan" in wanted:
        plan = subscriptions.plans_of(session, [sub])[sub.plan_id]
        body["plan"] = plan_out(plan)
    if "customer" in wanted:
        customer = subscriptions.resolve_customer(session, principal, sub.customer_id, None)
        body["customer"] = customer_out(customer)
    return json_response(body)


@router.put("/subscriptions/{subscription_id}", summary="Update a subscription")
def update_subscription(
    subscription_id: str, body: SubscriptionUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = SubscriptionChanges(
        status=body.status, cancel_at=body.cancel_at, cancel_at_period_end=body.cancel_at_period_end
    )
    sub = subscriptions.update_subscription(session, principal, subscription_id, changes)
    return json_response(full_subscription(session, sub))


@router.post("/subscriptions/{subscription_id}/activate", summary="Activate a draft subscription")
def activate_subscription(
    subscription_id: str, principal: Vendor, session: WriteSession, body: ActivateIn | None = None
) -> Response:
    start = body.start_date if body else None
    sub = subscriptions.activate_subscription(session, principal, subscription_id, start)
    return json_response(full_subscription(session, sub))


@router.post("/subscriptions/{subscription_id}/cancel", summary="Cancel a subscription")
def cancel_subscription(
    subscription_id: str,
    body: CancelIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    result = cancellation.cancel_subscription(
        session,
        principal,
        subscription_id,
        cancellation_type=body.cancellation_type,
        cancel_at=body.cancel_at,
        invoice_policy=body.cancel_immediately_invoice_policy
        or body.cancel_immediately_inovice_policy,
        reason=body.reason,
        proration_behavior=body.proration_behavior,
        grace=settings.billing.grace,  # the ended periods are closed as the clock would
    )
    now = utcnow()
    credited = [-line.amount for line in result.credit_lines]
    details = [
        {
            "line_item_id": line.subscription_line_item_id,
            "price_id": line.price_id,
            "description": line.display_name,
            "credit_amount": decimal_text(-line.amount),
            "charge_amount": "0",
        }
        for line in result.credit_lines
    ]
    message = (
        "subscription cancelled successfully"
        if result.cancellation_type == "immediate"
        else "subscription cancellation scheduled"
    )
    payout = result.payout
    if payout is not None:
        message += (
            f"; {decimal_text(payout.amount)} {result.subscription.currency} of unused time"
            f" credited to wallet {payout.wallet.id}"
        )
    invoice = (
        invoice_out(result.invoice, invoices.lines_of(session, [result.invoice])[result.invoice.id])
        if result.invoice
        else None
    )
    return json_response(
        {
            "subscription_id": result.subscription.id,
            "cancellation_type": result.cancellation_type,
            "effective_date": iso(result.effective_date),
            "status": subscriptions.effective_status(result.subscription, now),
            "reason": result.reason,
            "proration_details": details,
            "proration_invoice": invoice,
            "total_credit_amount": decimal_text(money_total(credited)),
            "message": message,
            "processed_at": iso(now),
        }
    )


def aggregated_feature_out(access: checks.FeatureAccess) -> dict[str, Any]:
    return {
        "feature": feature_out(access.feature, access.meter),
        "entitlement": {
            "is_enabled": access.is_enabled,
            "usage_limit": None if access.usage_limit is None else int(access.usage_limit),
            "is_soft_limit": access.is_soft_limit,
            "usage_reset_period": access.usage_reset_period,
            "static_values": access.static_values,
            "config_values": access.config_values,
        },
        "sources": [source_out(s) for s in access.sources],
    }


def source_out(source: checks.Source) -> dict[str, Any]:
    grant = source.grant
    return {
        "subscription_id": source.subscription.id,
        "entity_id": grant.entity_id,
        "entity_type": {"PLAN": "plan", "ADDON": "addon"}.get(grant.entity_type, "subscription"),
        "entity_name": source.entity_name,
        "entitlement_id": grant.id,
        "quantity": 1,
        "is_enabled": grant.is_enabled,
        "usage_limit": None if grant.usage_limit is None else int(grant.usage_limit),
        "usage_reset_period": grant.usage_reset_period,
        "static_value": grant.static_value,
        "config_value": grant.config_value if isinstance(grant.config_value, dict) else None,
    }


@router.get(
    "/subscriptions/{subscription_id}/entitlements", summary="A subscription's entitlements"
)
def subscription_entitlements(
    subscription_id: str,
    principal: Vendor,
    session: ReadSession,
    feature_ids: list[str] | None = Query(None),
) -> Response:
    sub = subscriptions.get_subscription(session, principal, subscription_id)
    found = checks.subscription_access(session, principal, sub, split_csv(feature_ids))
    return json_response(
        {
            "subscription_id": sub.id,
            "plan_id": sub.plan_id,
            "features": [aggregated_feature_out(a) for a in found],
        }
    )
