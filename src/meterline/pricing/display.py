"""How a price's amount is shown: the currency symbol and the exact amount."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_symbol

from meterline.kernel.money import decimal_text


def display_amount(amount: Decimal, currency: str) -> str:
    """The currency symbol and the exact amount, as upstream shows it: ``$0.02``, ``$100``."""
    symbol = get_currency_symbol(currency.upper(), locale="en_US")
    text = decimal_text(amount)
    if text.startswith("-"):
        return f"-{symbol}{text[1:]}"
    return f"{symbol}{text}"
