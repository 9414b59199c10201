"""Typed inputs of the coupon service, built by the API layer from its wire models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class NewCoupon:
    name: str
    type: str
    cadence: str
    amount_off: Decimal | None = None
    percentage_off: Decimal | None = None
    currency: str | None = None
    coupon_code: str | None = None
    duration_in_periods: int | None = None
    max_redemptions: int | None = None
    redeem_after: datetime | None = None
    redeem_before: datetime | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class CouponChanges:
    name: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class Redemption:
    """One coupon to attach to a subscription: by id or by code, for the whole invoice or
    for the lines of one price; ``field`` is the request field it came from."""

    field: str
    coupon_id: str | None = None
    coupon_code: str | None = None
    price_id: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
