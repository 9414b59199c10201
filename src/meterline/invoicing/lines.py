"""One invoice line before it is stored: pure data, bounded where it is made.

``amount`` may be unrounded; ``invoices.service`` rounds it once, to the currency's minor
units, when it stores the line. Built by the line maths (``invoices.compute``) and by one-off
invoices alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from meterline.kernel.errors import InvalidOperation
from meterline.kernel.money import BOUND_TEXT, LIMIT

_LINE_LIMIT = LIMIT - 1


@dataclass
class LineDraft:
    """One line before it is stored; ``amount`` may be unrounded."""

    amount: Decimal
    quantity: Decimal
    display_name: str | None = None
    price_id: str | None = None
    price_type: str | None = None
    meter_id: str | None = None
    meter_display_name: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    plan_display_name: str | None = None
    subscription_id: str | None = None
    subscription_line_item_id: str | None = None
    price_unit: str | None = None
    price_unit_amount: Decimal | None = None
    adjusted_entitlement_quantity: Decimal | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A price near the bound times a large usage can pass what NUMERIC(38, 12) holds:
        # refused here, as this invoice's problem, rather than as a database overflow.
        # One unit of margin: the line is still rounded to the currency's minor units.
        for name, value in (("amount", self.amount), ("quantity", self.quantity)):
            if not (value.is_finite() and -_LINE_LIMIT < value < _LINE_LIMIT):
                raise InvalidOperation(
                    f"the invoice line's {name} would pass {BOUND_TEXT}",
                    details={"price_id": self.price_id, name: str(value)},
                )
