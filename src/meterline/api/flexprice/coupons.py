"""/v1 coupons and coupon associations; coupons redeemed on subscription create."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
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
from meterline.discounts import service as discounts
from meterline.discounts.commands import CouponChanges, NewCoupon, Redemption
from meterline.discounts.models import Coupon, CouponApplication, CouponAssociation
from meterline.invoicing import service as invoices
from meterline.invoicing.models import Invoice
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant
from meterline.subscriptions.models import Subscription

router = APIRouter(tags=["coupons"])

Name = Field(min_length=1, max_length=255)
Ident = Annotated[str, Field(min_length=1, max_length=64)]
Metadata = Field(default=None, max_length=100)


class CouponIn(WireModel):
    unsupported = frozenset({"rules"})
    name: str = Name
    type: str = Field(max_length=20)
    cadence: str = Field(max_length=20)
    amount_off: money.Amount | None = None
    percentage_off: money.Amount | None = None
    currency: str | None = Field(default=None, max_length=10)
    coupon_code: str | None = Field(default=None, max_length=255)
    duration_in_periods: int | None = Field(default=None, ge=1, le=discounts.MAX_DURATION)
    max_redemptions: int | None = Field(default=None, ge=1, le=2**31 - 1)
    redeem_after: OptionalInstant = None
    redeem_before: OptionalInstant = None
    metadata: dict[str, str] | None = Metadata


class CouponUpdate(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, str] | None = Metadata


class CouponSearch(FilterQuery):
    coupon_ids: list[str] | None = Field(default=None, max_length=1000)
    coupon_codes: list[str] | None = Field(default=None, max_length=1000)


class SubscriptionCouponIn(WireModel):
    coupon_code: str = Field(min_length=1, max_length=255)
    price_id: str | None = Field(default=None, max_length=64)
    start_date: OptionalInstant = None
    end_date: OptionalInstant = None


class SubscriptionCoupons(WireModel):
    """The coupon fields of a subscription-create body (Flexprice's three spellings)."""

    coupons: list[Ident] | None = Field(
        default=None, max_length=discounts.MAX_COUPONS_PER_SUBSCRIPTION
    )
    subscription_coupons: list[SubscriptionCouponIn] | None = Field(
        default=None, max_length=discounts.MAX_COUPONS_PER_SUBSCRIPTION
    )
    line_item_coupons: dict[Ident, list[Ident]] | None = Field(
        default=None, max_length=discounts.MAX_COUPONS_PER_SUBSCRIPTION
    )

    def without_coupons(self) -> dict[str, Any]:
        """The body's other fields, by name (what the subscription itself is made of)."""
        names = set(SubscriptionCoupons.model_fields)
        return {k: v for k, v in dict(self).items() if k not in names}

    def redemptions(self) -> list[Redemption]:
        out = [Redemption("coupons", coupon_id=c) for c in self.coupons or ()]
        for index, item in enumerate(self.subscription_coupons or ()):
            out.append(
                Redemption(
                    f"subscription_coupons[{index}]",
                    coupon_code=item.coupon_code,
                    price_id=item.price_id,
                    start_date=item.start_date,
                    end_date=item.end_date,
                )
            )
        for price_id, ids in (self.line_item_coupons or {}).items():
            field = f"line_item_coupons.{price_id}"
            out.extend(Redemption(field, coupon_id=c, price_id=price_id) for c in ids)
        return out


def redeem_at_creation(
    session: Session, principal: Principal, sub: Subscription, body: SubscriptionCoupons
) -> None:
    """The coupons of a subscription-create body, redeemed in its transaction; its opening
    invoice (already written, still a draft) is discounted by them."""
    if discounts.redeem_on_subscription(session, principal, sub, body.redemptions()):
        invoices.rediscount_drafts(session, sub.environment_id, sub.id)


def coupon_out(coupon: Coupon) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": coupon.id,
        "name": coupon.name,
        "coupon_code": coupon.coupon_code,
        "type": coupon.type,
        "cadence": coupon.cadence,
        "amount_off": decimal_text(coupon.amount_off),
        "percentage_off": decimal_text(coupon.percentage_off),
        "currency": coupon.currency,
        "duration_in_periods": coupon.duration_in_periods,
        "max_redemptions": coupon.max_redemptions,
        "total_redemptions": coupon.total_redemptions,
        "redeem_after": iso(coupon.redeem_after),
        "redeem_before": iso(coupon.redeem_before),
        "metadata": coupon.metadata_ or {},
        "status": coupon.status,
        "environment_id": coupon.environment_id,
        "created_by": coupon.created_by,
        "updated_by": coupon.updated_by,
        "created_at": iso(coupon.created_at),
        "updated_at": iso(coupon.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def association_out(association: CouponAssociation, coupon: Coupon | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": association.id,
        "coupon_id": association.coupon_id,
        "subscription_id": association.subscription_id,
        "subscription_line_item_id": association.subscription_line_item_id,
        "start_date": iso(association.start_date),
        "end_date": iso(association.end_date),
        "metadata": association.metadata_ or {},
        "status": association.status,
        "environment_id": association.environment_id,
        "created_by": association.created_by,
        "created_at": iso(association.created_at),
        "updated_at": iso(association.updated_at),
    }
    if coupon is not None:
        body["coupon"] = coupon_out(coupon)
    return {k: v for k, v in body.items() if v is not None}


def application_out(application: CouponApplication) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": application.id,
        "coupon_id": application.coupon_id,
        "coupon_association_id": application.coupon_association_id,
        "invoice_id": application.invoice_id,
        "invoice_line_item_id": application.invoice_line_item_id,
        "subscription_id": application.subscription_id,
        "discount_type": application.discount_type,
        "discount_percentage": decimal_text(application.discount_percentage),
        "original_price": decimal_text(application.original_price),
        "discounted_amount": decimal_text(application.discounted_amount),
        "final_price": decimal_text(application.final_price),
        "currency": application.currency,
        "coupon_snapshot": application.coupon_snapshot,
        "applied_at": iso(application.applied_at),
        "status": application.status,
        "environment_id": application.environment_id,
        "created_at": iso(application.created_at),
        "updated_at": iso(application.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def applications_out(session: Session, invoice: Invoice) -> list[dict[str, Any]]:
    """What coupons took off ``invoice`` (its ``coupon_applications``)."""
    return [application_out(a) for a in discounts.applications_of(session, [invoice.id])]


@router.post("/coupons", status_code=201, summary="Create a coupon")
def create_coupon(body: CouponIn, principal: Vendor, session: WriteSession) -> Response:
    data = NewCoupon(**body.model_dump())
    return json_response(coupon_out(discounts.create_coupon(session, principal, data)), 201)


@router.post("/coupons/search", summary="Search coupons")
def search_coupons(body: CouponSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    found, total = discounts.search_coupons(
        session,
        principal,
        **body.terms(),
        coupon_ids=body.coupon_ids,
        coupon_codes=body.coupon_codes,
    )
    return list_response([coupon_out(c) for c in found], total, body)


@router.get("/coupons", summary="List coupons")
def list_coupons(
    principal: Vendor,
    session: ReadSession,
    page: ListPage,
    expand: str | None = None,
    coupon_ids: list[str] | None = Query(None),
    coupon_codes: list[str] | None = Query(None),
) -> Response:
    q = CouponSearch(
        **dict(page),
        expand=expand,
        coupon_ids=split_csv(coupon_ids),
        coupon_codes=split_csv(coupon_codes),
    )
    return search_coupons(q, principal, session)


@router.get("/coupons/associations", summary="List coupon associations")
def list_coupon_associations(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    subscription_ids: list[str] | None = Query(None),
    coupon_ids: list[str] | None = Query(None),
    active_only: bool | None = None,
    expand: str | None = None,
) -> Response:
    expanded = refuse_expand(expand, ("coupon",))
    found, total = discounts.list_associations(
        session,
        principal,
        subscription_ids=split_csv(subscription_ids),
        coupon_ids=split_csv(coupon_ids),
        active_only=bool(active_only),
        limit=page.limit,
        offset=page.offset,
    )
    by_id = discounts.coupons_of(session, found) if "coupon" in expanded else {}
    items = [association_out(a, by_id.get(a.coupon_id)) for a in found]
    return list_response(items, total, page)


@router.get("/coupons/associations/{association_id}", summary="Get a coupon association")
def get_coupon_association(
    association_id: str, principal: Vendor, session: ReadSession
) -> Response:
    association = discounts.get_association(session, principal, association_id)
    coupon = discounts.coupons_of(session, [association]).get(association.coupon_id)
    return json_response(association_out(association, coupon))


@router.get("/coupons/code/{code}", summary="Get a coupon by its code")
def get_coupon_by_code(code: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(coupon_out(discounts.coupon_by_code(session, principal, code)))


@router.get("/coupons/{coupon_id}", summary="Get a coupon")
def get_coupon(coupon_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(coupon_out(discounts.get_coupon(session, principal, coupon_id)))


@router.put("/coupons/{coupon_id}", summary="Update a coupon's name and metadata")
def update_coupon(
    coupon_id: str, body: CouponUpdate, principal: Vendor, session: WriteSession
) -> Response:
    changes = CouponChanges(name=body.name, metadata=body.metadata)
    return json_response(
        coupon_out(discounts.update_coupon(session, principal, coupon_id, changes))
    )


@router.delete("/coupons/{coupon_id}", summary="Delete (archive) a coupon")
def delete_coupon(coupon_id: str, principal: Vendor, session: WriteSession) -> Response:
    discounts.archive_coupon(session, principal, coupon_id)
    return json_response({"message": "coupon deleted successfully"})
