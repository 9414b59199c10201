"""The SQL of coupons, their associations and their applications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, distinct, func, select, update
from sqlalchemy.orm import Session

from meterline.db.rows import in_environment, published_in_environment
from meterline.db.search import Search, finish, searched
from meterline.discounts.models import Coupon, CouponApplication, CouponAssociation
from meterline.invoicing.models import Invoice


def coupon(session: Session, environment_id: str, coupon_id: str) -> Coupon | None:
    return in_environment(session, Coupon, environment_id, Coupon.id == coupon_id)


def coupon_by_code(session: Session, environment_id: str, code: str) -> Coupon | None:
    return published_in_environment(session, Coupon, environment_id, Coupon.coupon_code == code)


@dataclass(frozen=True, kw_only=True)
class CouponQuery(Search):
    coupon_ids: Sequence[str] | None = None
    coupon_codes: Sequence[str] | None = None


COUPON_COLUMNS = {
    "id": Coupon.id,
    "name": Coupon.name,
    "coupon_code": Coupon.coupon_code,
    "type": Coupon.type,
    "cadence": Coupon.cadence,
    "currency": Coupon.currency,
    "created_at": Coupon.created_at,
    "updated_at": Coupon.updated_at,
}


def search_coupons(
    session: Session, environment_id: str, q: CouponQuery, limit: int, offset: int
) -> tuple[list[Coupon], int]:
    stmt = searched(Coupon, environment_id, q)
    if q.coupon_ids:
        stmt = stmt.where(Coupon.id.in_(q.coupon_ids))
    if q.coupon_codes:
        stmt = stmt.where(Coupon.coupon_code.in_(q.coupon_codes))
    return finish(session, stmt, Coupon, q, COUPON_COLUMNS, limit, offset)


def redeem(session: Session, coupon_id: str) -> bool:
    """One more redemption of the coupon, unless its limit is reached (one conditional
    UPDATE: two concurrent redemptions of the last slot cannot both pass)."""
    result = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            (Coupon.max_redemptions.is_(None))
            | (Coupon.total_redemptions < Coupon.max_redemptions),
        )
        .values(total_redemptions=Coupon.total_redemptions + 1)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def association(
    session: Session, environment_id: str, association_id: str
) -> CouponAssociation | None:
    return in_environment(
        session, CouponAssociation, environment_id, CouponAssociation.id == association_id
    )


def associations(
    session: Session,
    environment_id: str,
    *,
    subscription_ids: Sequence[str] | None,
    coupon_ids: Sequence[str] | None,
    active_at: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[CouponAssociation], int]:
    stmt = select(CouponAssociation).where(
        CouponAssociation.environment_id == environment_id,
        CouponAssociation.status == "published",
    )
    if subscription_ids:
        stmt = stmt.where(CouponAssociation.subscription_id.in_(subscription_ids))
    if coupon_ids:
        stmt = stmt.where(CouponAssociation.coupon_id.in_(coupon_ids))
    if active_at is not None:
        stmt = stmt.where(
            CouponAssociation.start_date <= active_at,
            CouponAssociation.end_date.is_(None) | (CouponAssociation.end_date > active_at),
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(CouponAssociation.created_at, CouponAssociation.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def of_subscription(
    session: Session, environment_id: str, subscription_id: str
) -> list[tuple[CouponAssociation, Coupon]]:
    """The subscription's published associations with their coupons, oldest first."""
    rows = session.execute(
        select(CouponAssociation, Coupon)
        .join(Coupon, Coupon.id == CouponAssociation.coupon_id)
        .where(
            CouponAssociation.environment_id == environment_id,
            CouponAssociation.subscription_id == subscription_id,
            CouponAssociation.status == "published",
        )
        .order_by(CouponAssociation.created_at, CouponAssociation.id)
    )
    return [(a, c) for a, c in rows]


def invoices_discounted(
    session: Session, association_ids: Sequence[str], invoice: Invoice
) -> dict[str, int]:
    """How many invoices before ``invoice`` each association discounted: earlier by period
    start, then by creation; a recomputed draft is not counted against itself, nor are the
    invoices written after it (its discount stays what it was when it was first written)."""
    if not association_ids:
        return {}
    stmt = (
        select(
            CouponApplication.coupon_association_id,
            func.count(distinct(CouponApplication.invoice_id)),
        )
        .join(Invoice, Invoice.id == CouponApplication.invoice_id)
        .where(
            CouponApplication.coupon_association_id.in_(association_ids),
            CouponApplication.invoice_id != invoice.id,
        )
        .group_by(CouponApplication.coupon_association_id)
    )
    if invoice.created_at is not None:  # a stored invoice: only those before it count
        if invoice.period_start is not None:
            stmt = stmt.where(
                (Invoice.period_start < invoice.period_start)
                | (
                    (Invoice.period_start == invoice.period_start)
                    & (Invoice.created_at < invoice.created_at)
                )
            )
        else:
            stmt = stmt.where(Invoice.created_at < invoice.created_at)
    return {key: int(count) for key, count in session.execute(stmt)}


def applications_of(session: Session, invoice_ids: Sequence[str]) -> list[CouponApplication]:
    if not invoice_ids:
        return []
    return list(
        session.scalars(
            select(CouponApplication)
            .where(CouponApplication.invoice_id.in_(invoice_ids))
            .order_by(CouponApplication.applied_at, CouponApplication.id)
        )
    )


def delete_applications(session: Session, invoice_id: str) -> None:
    session.execute(delete(CouponApplication).where(CouponApplication.invoice_id == invoice_id))
