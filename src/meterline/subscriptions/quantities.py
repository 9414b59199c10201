"""Quantities of a subscription's fixed line items (seats): checked here, billed by
``invoicing.compute`` (a fixed price is priced at its line item's quantity)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from meterline.kernel.errors import InvalidRequest
from meterline.pricing.models import Price

# More seats than this on one line is a typo, not a customer (docs/billing.md).
MAX_QUANTITY = Decimal(1_000_000_000)


def check_quantity(quantity: Decimal, field: str = "quantity") -> Decimal:
    """A fixed line item's quantity: more than 0 (a line item is removed, not set to 0),
    at most ``MAX_QUANTITY``."""
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidRequest(
            f"{field} must be greater than 0",
            field=field,
            details={"provided_value": str(quantity)},
        )
    if quantity > MAX_QUANTITY:
        raise InvalidRequest(
            f"{field} must be at most {MAX_QUANTITY}",
            field=field,
            details={"provided_value": str(quantity)},
        )
    return quantity


def override_quantities(
    prices: Sequence[Price], overrides: Mapping[str, Decimal] | None
) -> dict[str, Decimal]:
    """The quantity of each overridden price (``override_line_items``): each must be one of
    the subscription's FIXED prices, named once."""
    by_id = {p.id: p for p in prices}
    out: dict[str, Decimal] = {}
    for price_id, quantity in (overrides or {}).items():
        price = by_id.get(price_id)
        if price is None:
            raise InvalidRequest(
                "override_line_items names a price that is not one of the subscription's",
                field="override_line_items",
                details={"price_id": price_id},
            )
        if price.type != "FIXED":
            raise InvalidRequest(
                "a quantity can only be set on a FIXED price (usage is metered)",
                field="override_line_items",
                details={"price_id": price_id},
            )
        out[price_id] = check_quantity(quantity, "override_line_items.quantity")
    return out
