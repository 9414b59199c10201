"""Value rules shared by the pricing commands: allowed choices, bounded decimals, currencies.

Pure: the types are settled by the wire models; what is checked here is the value (one of
the allowed words, inside ``kernel.money``'s bounds, not negative, a known ISO 4217 code).
Each failure is an ``InvalidRequest`` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest

DecimalInput = Decimal | str | None


def choice(value: str | None, allowed: Sequence[str], field: str) -> str:
    """``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return str(value)


def decimal_of(value: DecimalInput, field: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    """A decimal inside ``kernel.money``'s bounds and not below ``minimum``."""
    if value is None:
        raise InvalidRequest(f"{field} must be a decimal number", field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(value.strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRequest(f"{field} must be a decimal number", field=field) from exc
    reason = money.problem(number)
    if reason is not None:
        # Outside NUMERIC(38, 12): PostgreSQL would overflow, or store 0.0000000000004 as 0.
        raise InvalidRequest(f"{field} {reason}", field=field)
    if minimum is not None and number < minimum:
        raise InvalidRequest(f"{field} must not be negative", field=field)
    return number


def optional_decimal(value: DecimalInput, field: str) -> Decimal | None:
    """``decimal_of`` for an optional field: absent (or empty text) is ``None``."""
    if value is None or value == "":
        return None
    return decimal_of(value, field)


def currency_of(value: str | None, field: str = "currency") -> str:
    """An ISO 4217 code with minor units (``kernel.money.is_currency``), as given
    (surrounding blanks removed): the one currency rule of prices, plans' subscriptions,
    wallets, invoices and coupons."""
    text = (value or "").strip()
    if not money.is_currency(text):
        raise InvalidRequest(
            f"{field} must be an ISO 4217 currency code",
            field=field,
            details={"provided_value": value},
        )
    return text


def int_at_least(value: int | None, field: str, default: int, minimum: int) -> int:
    """``value`` (or ``default`` when absent) if it is at least ``minimum``."""
    if value is None:
        return default
    if value < minimum:
        raise InvalidRequest(f"{field} must be an integer of at least {minimum}", field=field)
    return value
