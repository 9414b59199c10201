"""Helpers of the charge-model golden tables."""

from __future__ import annotations

from decimal import Decimal

from meterline.pricing.charge_models.tiers import Tier

D = Decimal


def tiers(*rows: tuple[int | None, str] | tuple[int | None, str, str]) -> tuple[Tier, ...]:
    """``(up_to, unit_amount[, flat_amount])`` rows as tiers."""
    out = []
    for row in rows:
        up_to = None if row[0] is None else D(row[0])
        flat = D(row[2]) if len(row) == 3 else D(0)  # type: ignore[misc]
        out.append(Tier(up_to=up_to, unit_amount=D(row[1]), flat_amount=flat))
    return tuple(out)
