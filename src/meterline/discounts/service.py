"""Coupon rules: the catalog, redemption on a subscription, and discounts on its invoices.

* A coupon is ``fixed`` (``amount_off`` in its ``currency``) or ``percentage``
  (``percentage_off``, more than 0 and at most 100); ``once``, ``repeated`` for
  ``duration_in_periods`` invoices, or ``forever``.
* Redeeming it (attaching it to a subscription) is refused while ``now`` is outside
  ``[redeem_after, redeem_before)``, once ``max_redemptions`` is reached (one conditional
  UPDATE counts it), for an archived coupon, and for a fixed coupon in another currency.
* Each invoice of the subscription is discounted by its associations still running
  (``compute.apply``), before tax; a repeated coupon runs for its first N invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id, utcnow
from meterline.db.rows import by_ids, existing
from meterline.discounts import compute, repository
from meterline.discounts.commands import CouponChanges, NewCoupon, Redemption
from meterline.discounts.models import (
    CADENCES,
    COUPON_TYPES,
    Coupon,
    CouponApplication,
    CouponAssociation,
)
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel import money
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidOperation, InvalidRequest
from meterline.pricing.fields import currency_of
from meterline.pricing.plans import flush_unique
from meterline.subscriptions.models import Subscription, SubscriptionLineItem

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_DURATION = 1200  # invoices: a hundred years of monthly periods
MAX_COUPONS_PER_SUBSCRIPTION = 20


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def _check_terms(data: NewCoupon) -> None:
    _choice(data.type, COUPON_TYPES, "type")
    _choice(data.cadence, CADENCES, "cadence")
    if data.type == "fixed":
        if data.amount_off is None or data.amount_off <= 0:
            raise InvalidRequest("a fixed coupon needs amount_off above 0", field="amount_off")
        if data.percentage_off is not None:
            raise InvalidRequest("a fixed coupon has no percentage_off", field="percentage_off")
        if not data.currency:
            raise InvalidRequest("a fixed coupon needs its currency", field="currency")
    else:
        pct = data.percentage_off
        if pct is None or not ZERO < pct <= HUNDRED:
            raise InvalidRequest(
                "a percentage coupon needs percentage_off above 0 and at most 100",
                field="percentage_off",
            )
        if data.amount_off is not None:
            raise InvalidRequest("a percentage coupon has no amount_off", field="amount_off")
    if data.cadence == "repeated":
        periods = data.duration_in_periods
        if periods is None or not 1 <= periods <= MAX_DURATION:
            raise InvalidRequest(
                f"a repeated coupon needs duration_in_periods from 1 to {MAX_DURATION}",
                field="duration_in_periods",
            )
    elif data.duration_in_periods is not None:
        raise InvalidRequest(
            "duration_in_periods is only for repeated coupons", field="duration_in_periods"
        )
    if data.max_redemptions is not None and data.max_redemptions < 1:
        raise InvalidRequest("max_redemptions must be at least 1", field="max_redemptions")
    if data.redeem_after and data.redeem_before and data.redeem_before <= data.redeem_after:
        raise InvalidRequest("redeem_before must be after redeem_after", field="redeem_before")


def create_coupon(session: Session, principal: Principal, data: NewCoupon) -> Coupon:
    if not data.name.strip():
        raise InvalidRequest("name is required", field="name")
    _check_terms(data)
    code = (data.coupon_code or "").strip() or None
    if code and repository.coupon_by_code(session, principal.environment_id, code):
        raise AlreadyExists("A coupon with this coupon_code exists", details={"coupon_code": code})
    coupon = Coupon(
        id=new_id("coupon"),
        environment_id=principal.environment_id,
        name=data.name.strip(),
        coupon_code=code,
        type=data.type,
        cadence=data.cadence,
        amount_off=data.amount_off,
        percentage_off=data.percentage_off,
        currency=currency_of(data.currency).lower() if data.currency else None,
        duration_in_periods=data.duration_in_periods,
        max_redemptions=data.max_redemptions,
        total_redemptions=0,
        redeem_after=data.redeem_after,
        redeem_before=data.redeem_before,
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(coupon)
    flush_unique(session, "A coupon with this coupon_code exists")
    return coupon


def get_coupon(session: Session, principal: Principal, coupon_id: str) -> Coupon:
    return existing(
        repository.coupon(session, principal.environment_id, coupon_id), "coupon", coupon_id
    )


def coupon_by_code(session: Session, principal: Principal, code: str) -> Coupon:
    found = repository.coupon_by_code(session, principal.environment_id, code)
    return existing(found, "coupon", code)


def search_coupons(
    session: Session, principal: Principal, *, limit: int, offset: int, **filters: Any
) -> tuple[list[Coupon], int]:
    q = repository.CouponQuery(**filters)
    return repository.search_coupons(session, principal.environment_id, q, limit, offset)


def update_coupon(
    session: Session, principal: Principal, coupon_id: str, changes: CouponChanges
) -> Coupon:
    """Only the name and metadata change: the terms of a redeemed coupon stay as redeemed."""
    coupon = get_coupon(session, principal, coupon_id)
    if coupon.status != "published":
        raise InvalidOperation("an archived coupon cannot be updated")
    if changes.name is not None:
        if not changes.name.strip():
            raise InvalidRequest("name must not be empty", field="name")
        coupon.name = changes.name.strip()
    if changes.metadata is not None:
        coupon.metadata_ = dict(changes.metadata)
    coupon.updated_by = principal.user_id
    coupon.updated_at = utcnow()
    session.flush()
    return coupon


def archive_coupon(session: Session, principal: Principal, coupon_id: str) -> None:
    """No new redemption; subscriptions that redeemed it keep their discount (Stripe's
    deleted coupon, Lago's terminated one)."""
    coupon = get_coupon(session, principal, coupon_id)
    if coupon.status != "published":
        raise InvalidOperation("the coupon is already deleted")
    coupon.status = "archived"
    coupon.updated_at = utcnow()
    session.flush()


def get_association(
    session: Session, principal: Principal, association_id: str
) -> CouponAssociation:
    found = repository.association(session, principal.environment_id, association_id)
    return existing(found, "coupon association", association_id)


def list_associations(
    session: Session,
    principal: Principal,
    *,
    subscription_ids: Sequence[str] | None,
    coupon_ids: Sequence[str] | None,
    active_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[CouponAssociation], int]:
    """The associations; ``active_only``: those whose ``end_date`` has not passed."""
    return repository.associations(
        session,
        principal.environment_id,
        subscription_ids=subscription_ids,
        coupon_ids=coupon_ids,
        active_at=utcnow() if active_only else None,
        limit=limit,
        offset=offset,
    )


def coupons_of(session: Session, associations: Sequence[CouponAssociation]) -> dict[str, Coupon]:
    return by_ids(session, Coupon, sorted({a.coupon_id for a in associations}))


def _coupon_to_redeem(session: Session, principal: Principal, wanted: Redemption) -> Coupon:
    if wanted.coupon_id is not None:
        coupon = repository.coupon(session, principal.environment_id, wanted.coupon_id)
        ident = wanted.coupon_id
    else:
        ident = wanted.coupon_code or ""
        coupon = repository.coupon_by_code(session, principal.environment_id, ident)
    if coupon is None or coupon.status != "published":
        raise InvalidRequest(
            f"no coupon {ident} can be redeemed", field=wanted.field, details={"coupon": ident}
        )
    return coupon


def _check_redeemable(coupon: Coupon, sub: Subscription, field: str, now: datetime) -> None:
    details = {"coupon_id": coupon.id}
    if coupon.redeem_after is not None and now < coupon.redeem_after:
        raise InvalidRequest(
            "the coupon cannot be redeemed before its redeem_after", field=field, details=details
        )
    if coupon.redeem_before is not None and now >= coupon.redeem_before:
        raise InvalidRequest("the coupon has expired (redeem_before)", field=field, details=details)
    if coupon.type == "fixed" and coupon.currency != sub.currency:
        raise InvalidRequest(
            f"the coupon is in {coupon.currency}, the subscription in {sub.currency}",
            field=field,
            details=details,
        )


def redeem_on_subscription(
    session: Session,
    principal: Principal,
    sub: Subscription,
    wanted: Sequence[Redemption],
    *,
    now: datetime | None = None,
) -> list[CouponAssociation]:
    """Attaches each coupon to ``sub`` (one redemption each) and discounts the invoices the
    subscription already has in DRAFT (its opening invoice). Any refusal refuses the whole
    request: the caller's transaction is rolled back, nothing is redeemed."""
    if not wanted:
        return []
    now = now or utcnow()
    if len(wanted) > MAX_COUPONS_PER_SUBSCRIPTION:
        raise InvalidRequest(
            f"at most {MAX_COUPONS_PER_SUBSCRIPTION} coupons per subscription",
            field=wanted[0].field,
        )
    lines = {
        item.price_id: item
        for item in session.scalars(
            select(SubscriptionLineItem).where(SubscriptionLineItem.subscription_id == sub.id)
        )
    }
    made = []
    seen: set[tuple[str, str | None]] = set()
    for item in wanted:
        coupon = _coupon_to_redeem(session, principal, item)
        if (coupon.id, item.price_id) in seen:
            # Stripe refuses the same coupon twice on one subscription as well.
            raise InvalidRequest(
                "the coupon is already redeemed on this subscription",
                field=item.field,
                details={"coupon_id": coupon.id},
            )
        seen.add((coupon.id, item.price_id))
        _check_redeemable(coupon, sub, item.field, now)
        line = None
        if item.price_id is not None:
            line = lines.get(item.price_id)
            if line is None:
                raise InvalidRequest(
                    "the subscription has no line of this price",
                    field=item.field,
                    details={"price_id": item.price_id},
                )
        if not repository.redeem(session, coupon.id):
            raise Conflict(
                "the coupon has reached its max_redemptions",
                details={"coupon_id": coupon.id, "max_redemptions": coupon.max_redemptions},
                reason="redemption_limit",
            )
        start = item.start_date or sub.start_date
        if item.end_date is not None and item.end_date <= start:
            raise InvalidRequest("end_date must be after start_date", field=item.field)
        association = CouponAssociation(
            id=new_id("coupon_assoc"),
            environment_id=principal.environment_id,
            coupon_id=coupon.id,
            subscription_id=sub.id,
            price_id=item.price_id,
            subscription_line_item_id=line.id if line else None,
            start_date=start,
            end_date=item.end_date,
            metadata_={},
            created_by=principal.user_id,
            updated_by=principal.user_id,
        )
        session.add(association)
        made.append(association)
    session.flush()
    return made


def _running(
    pairs: Sequence[tuple[CouponAssociation, Coupon]], used: dict[str, int], invoice: Invoice
) -> list[tuple[CouponAssociation, Coupon]]:
    # An association runs on an invoice whose period overlaps its [start_date, end_date).
    now = utcnow()
    start = invoice.period_start or invoice.created_at or now
    end = invoice.period_end or start
    out = []
    for association, coupon in pairs:
        if association.start_date > end:
            continue
        if association.end_date is not None and association.end_date <= start:
            continue
        done = used.get(association.id, 0)
        if coupon.cadence == "once" and done >= 1:
            continue
        if coupon.cadence == "repeated" and done >= (coupon.duration_in_periods or 0):
            continue
        out.append((association, coupon))
    return out


def _snapshot(coupon: Coupon) -> dict[str, Any]:
    return {
        "id": coupon.id,
        "name": coupon.name,
        "type": coupon.type,
        "cadence": coupon.cadence,
        "amount_off": _text(coupon.amount_off),
        "percentage_off": _text(coupon.percentage_off),
        "currency": coupon.currency,
        "duration_in_periods": coupon.duration_in_periods,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else money.decimal_text(value)


def discount_invoice(
    session: Session,
    invoice: Invoice,
    lines: Sequence[InvoiceLineItem],
    *,
    replacing: bool,
    now: datetime | None = None,
) -> Decimal:
    """Discounts ``invoice``'s ``lines`` by its subscription's running coupons: sets each
    line's ``line_item_discount`` and ``invoice_level_discount``, records the applications
    and answers the invoice's total discount. ``replacing``: the invoice had lines before
    (a recomputed draft), whose applications are replaced.

    Reads run without autoflush: the billing clock adds a chunk's invoices unflushed and
    flushes them once; nothing it added is needed here."""
    if invoice.subscription_id is None:
        return ZERO
    with session.no_autoflush:
        if replacing:
            repository.delete_applications(session, invoice.id)
        pairs = repository.of_subscription(session, invoice.environment_id, invoice.subscription_id)
        if not pairs:
            return ZERO
        used = repository.invoices_discounted(session, [a.id for a, _ in pairs], invoice)
    running = _running(pairs, used, invoice)
    for line in lines:
        line.id = line.id or new_id("inv_line")
    outcome = compute.apply(
        [compute.Line(line.id, line.amount, line.price_id) for line in lines],
        [
            compute.Discount(
                association.id,
                coupon.type,
                (coupon.amount_off if coupon.type == "fixed" else coupon.percentage_off) or ZERO,
                association.price_id,
            )
            for association, coupon in running
        ],
        invoice.currency,
    )
    for line in lines:
        line.line_item_discount = outcome.line_discounts.get(line.id, ZERO)
        line.invoice_level_discount = outcome.invoice_discounts.get(line.id, ZERO)
    by_id = {association.id: (association, coupon) for association, coupon in running}
    at = now or utcnow()
    for applied in outcome.applied:
        association, coupon = by_id[applied.discount_key]
        session.add(
            CouponApplication(
                id=new_id("coupon_app"),
                environment_id=invoice.environment_id,
                coupon_id=coupon.id,
                coupon_association_id=association.id,
                invoice_id=invoice.id,
                invoice_line_item_id=applied.line_key,
                subscription_id=invoice.subscription_id,
                discount_type=coupon.type,
                discount_percentage=coupon.percentage_off,
                original_price=applied.original,
                discounted_amount=applied.discounted,
                final_price=applied.final,
                currency=invoice.currency,
                coupon_snapshot=_snapshot(coupon),
                applied_at=at,
            )
        )
    return outcome.total


def applications_of(session: Session, invoice_ids: Sequence[str]) -> list[CouponApplication]:
    return repository.applications_of(session, invoice_ids)
