"""Currency minor units against ISO 4217's own published table (list one).

The ``iso4217`` package ships ISO's XML as published; this test reads that XML directly, so
``kernel.money`` is checked against the source rather than against itself: every active
code with minor units rounds to them, and every code without (funds, metals, XTS, XXX) is
no billing currency.
"""

from __future__ import annotations

from decimal import Decimal

import iso4217
import pytest

from meterline.kernel.money import is_currency, minor_units, round_money


def _published() -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry"):
        code, units = entry.findtext("Ccy"), entry.findtext("CcyMnrUnts")
        if code and units:  # entries without a code: "No universal currency"
            table[code.strip()] = units.strip()
    return table


PUBLISHED = _published()


def test_the_published_table_is_the_whole_list() -> None:
    # ISO 4217 lists about 180 active codes; a parse that found a handful would pass below.
    assert len(PUBLISHED) >= 170
    assert {"USD", "EUR", "JPY", "IQD", "CLF", "XAU"} <= PUBLISHED.keys()


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_minor_units_match_iso_4217(code: str) -> None:
    units = PUBLISHED[code]
    if units == "N.A.":
        assert not is_currency(code) and not is_currency(code.lower())
        with pytest.raises(ValueError):
            minor_units(code)
        return
    digits = int(units)
    assert is_currency(code) and is_currency(code.lower())
    assert minor_units(code) == minor_units(code.lower()) == digits
    # One unit of the next place rounds away from zero to a whole minor unit.
    half = Decimal(5).scaleb(-(digits + 1))
    assert round_money(half, minor_units(code)) == Decimal(1).scaleb(-digits)
