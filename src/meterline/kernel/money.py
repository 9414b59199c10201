"""Quantities, prices and money amounts: their bounds, their arithmetic, their rounding.

Every decimal Meterline keeps is stored in a ``NUMERIC(38, 12)`` column (``db.base.Money``;
text on SQLite), so that is what a value may be:

* at most ``INTEGER_DIGITS`` (26) digits before the point: ``|value| < 10^26``;
* at most ``FRACTION_DIGITS`` (12) digits after it, trailing zeros not counted
  (``1.50000000000000`` is ``1.5``; ``0.0000000000004`` has 13 and is refused, because
  PostgreSQL would store it as ``0``).

Quantities, prices and amounts share these bounds; they are named apart so that a schema
says which one a field is. The wire refuses a value outside them (``Quantity``, ``Price``
and ``Amount`` for pydantic models, ``check`` for hand-parsed values); event properties,
which are data rather than commands, count as 0 outside them (``bounded_or_zero``) and
are never expanded: ``1e999999`` stays eight characters in the event and adds 0.

All arithmetic on money and usage runs in ``MONEY_CONTEXT``: 80 significant digits hold
the product of two bounded values (26+26 before the point, 12+12 after) and sums of
millions of them exactly, where Python's default context (28 digits) silently rounds a sum
of two 26-digit amounts with cents. Invalid operations and division by zero raise.

Money is rounded once per invoice line with ``round_money``: to a number of minor units,
half away from zero. A currency's minor units come from the ISO 4217 table itself (the
``iso4217`` package): CLDR's digits, which Babel reports, are cash-rounding digits and
differ for IQD (3, not 0), IDR, HUF and COP (2, not 0).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Annotated, Any, ParamSpec, TypeVar

from iso4217 import Currency
from pydantic import AfterValidator, Field

INTEGER_DIGITS = 26
FRACTION_DIGITS = 12
MAX_DIGITS = INTEGER_DIGITS + FRACTION_DIGITS
# |value| < LIMIT; the largest value is LIMIT - SMALLEST.
LIMIT = Decimal(10) ** INTEGER_DIGITS
SMALLEST = Decimal(1).scaleb(-FRACTION_DIGITS)

MONEY_CONTEXT = Context(
    prec=80,
    rounding=ROUND_HALF_UP,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# 26 nines, the point, 12 nines (in the default context this would round to 10^26).
LARGEST = MONEY_CONTEXT.subtract(LIMIT, SMALLEST)

_quantize = MONEY_CONTEXT.quantize  # positional: keyword arguments cost twice the call

BOUND_TEXT = (
    f"at most {INTEGER_DIGITS} digits before the decimal point and {FRACTION_DIGITS} after it"
)

ZERO = Decimal(0)


def problem(value: Decimal) -> str | None:
    """Why ``value`` is outside the bounds, or None when it is within them."""
    if not value.is_finite():
        return "must be a finite number"
    if not value:
        return None
    if value.adjusted() >= INTEGER_DIGITS:
        return f"must have {BOUND_TEXT} (|value| < 10^{INTEGER_DIGITS})"
    if _quantize(value, SMALLEST) != value:  # more than 12 places (cheaper than as_tuple)
        return f"must have {BOUND_TEXT}"
    return None


def within_magnitude(value: Decimal) -> bool:
    """Whether ``value`` is finite and below ``10^26`` in magnitude (places not counted)."""
    return value.is_finite() and (not value or value.adjusted() < INTEGER_DIGITS)


def fits(value: Decimal) -> bool:
    """Whether a computed ``value`` (a product, a balance: any number of places) fits the
    store once rounded to its 12 places. Comparisons, not ``abs()``: they never round."""
    return value.is_finite() and -LARGEST <= value <= LARGEST


def within(value: Decimal) -> bool:
    """Whether ``value`` is finite and within the bounds."""
    return problem(value) is None


def check(value: Decimal, field: str = "value") -> Decimal:
    """``value`` itself when within the bounds, else ``ValueError`` naming ``field``."""
    reason = problem(value)
    if reason is not None:
        raise ValueError(f"{field} {reason}")
    return value


def bounded_or_zero(value: Decimal) -> Decimal:
    """How an event property counts: ``value`` when finite and below ``10^26`` in magnitude,
    else 0 (as a non-numeric property counts). More than 12 digits after the point are
    rounded there, half away from zero, as the store would keep them anyway: every back
    end and every read path then counts the same value."""
    # Cheap checks first: this runs once per event and meter on the ingest path, and
    # as_tuple() costs three times what quantize does.
    if not value.is_finite() or not value or value.adjusted() >= INTEGER_DIGITS:
        return ZERO
    rounded = _quantize(value, SMALLEST)  # the context rounds half away from zero
    if rounded == value:
        return value
    return rounded if rounded.adjusted() < INTEGER_DIGITS else ZERO  # rounded up to 10^26


def saturate(value: Decimal) -> Decimal:
    """``value`` held within ``±LARGEST``: a running total that would pass the bounds (an
    aggregate of many large event values) stays at the largest value the store holds."""
    if value > LARGEST:
        return LARGEST
    if value < -LARGEST:
        return -LARGEST
    return value


def _wire_check(value: Decimal) -> Decimal:
    reason = problem(value)
    if reason is not None:
        # pydantic puts the field's location beside this message.
        raise ValueError(f"the value {reason}")
    return value


def _bounded(what: str) -> Any:
    return Annotated[
        Decimal,
        Field(
            allow_inf_nan=False,
            description=f"A {what}: a decimal with {BOUND_TEXT}.",
            json_schema_extra={
                "x-max-integer-digits": INTEGER_DIGITS,
                "x-max-fraction-digits": FRACTION_DIGITS,
            },
        ),
        AfterValidator(_wire_check),
    ]


# Bounded decimals for pydantic request models: a value outside the bounds is a 400 that
# names the field. Strings and JSON numbers are both accepted, as ``Decimal`` fields accept.
Quantity = _bounded("quantity")
Price = _bounded("price")
Amount = _bounded("money amount")
# A whole number of units (a usage limit, a tier's upper bound): |value| < 10^26.
WholeQuantity = Annotated[
    int,
    Field(
        gt=-(10**INTEGER_DIGITS),
        lt=10**INTEGER_DIGITS,
        description=f"A whole quantity below 10^{INTEGER_DIGITS} in magnitude.",
    ),
]


def round_money(amount: Decimal, minor_units: int) -> Decimal:
    """``amount`` rounded to ``minor_units`` digits after the point, half away from zero.

    ``ROUND_HALF_UP`` in :mod:`decimal` rounds ties away from zero for negative amounts too:
    ``2.345`` → ``2.35``, ``-2.345`` → ``-2.35``.
    """
    exponent = Decimal(1).scaleb(-minor_units)
    return amount.quantize(exponent, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)


def decimal_text(value: Decimal) -> str:
    """The shortest exact text of a decimal, never an exponent: ``1.500`` → ``"1.5"``,
    ``1E+3`` → ``"1000"``. Meant for bounded values (it writes every digit)."""
    if not value:
        return "0"
    return format(value.normalize(MONEY_CONTEXT), "f")


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (in ``MONEY_CONTEXT``)."""
    with localcontext(MONEY_CONTEXT):
        return sum(values, ZERO)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_money_context(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``function`` with ``MONEY_CONTEXT`` as the decimal context (for entry points
    whose arithmetic is spread over many lines: every ``+``, ``*`` and ``sum`` inside)."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(MONEY_CONTEXT):
            return function(*args, **kwargs)

    return wrapper


@functools.lru_cache(maxsize=1)
def _iso_minor_units() -> dict[str, int]:
    # Funds, metals and testing codes (XAU, XDR, XTS, ...) have no minor units in ISO 4217:
    # no amount of them can be rounded to a line, so they are no billing currency.
    return {c.code: c.exponent for c in Currency if c.exponent is not None}


def is_currency(code: str) -> bool:
    """True for an ISO 4217 code with minor units, in any letter case (``usd``, ``JPY``)."""
    return len(code) == 3 and code.upper() in _iso_minor_units()


def minor_units(currency: str) -> int:
    """Digits after the point of ``currency`` per ISO 4217: usd 2, jpy 0, kwd 3, clf 4,
    iqd 3. Raises ``ValueError`` for a code that is not one (``is_currency`` first)."""
    try:
        return _iso_minor_units()[currency.upper()]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency with minor units") from None
