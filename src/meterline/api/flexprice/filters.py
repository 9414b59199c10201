"""Search filters the official SDK can send that Meterline does not apply yet.

A filter that is accepted and not applied answers rows the client asked to exclude, so each
such field is refused with a 400 naming it, until the issue that implements it lands. Every
filter of every served search is either applied or listed here (tests/api/flexprice/
test_filters.py holds both halves against the SDK's request models).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from fastapi import Request
from pydantic import model_validator

from meterline.api.flexprice.common import ListQuery, split_csv
from meterline.kernel.errors import InvalidRequest


def refuse_unsupported(values: Mapping[str, Any], names: Iterable[str]) -> None:
    """A 400 naming the first of ``names`` that ``values`` sets (an empty list sets nothing)."""
    for name in names:
        value = values.get(name)
        if value is None or value == [] or value == {}:
            continue
        raise InvalidRequest(
            f"the filter {name} is not supported yet",
            field=name,
            details={"reason": "unsupported_filter"},
        )


def refuse_expand(expand: str | None, supported: Iterable[str] = ()) -> set[str]:
    """The requested expansions; a 400 naming ``expand`` for any this search cannot render."""
    wanted = set(split_csv(expand) or [])
    unknown = sorted(wanted - set(supported))
    if unknown:
        raise InvalidRequest(
            f"expand {', '.join(unknown)} is not supported yet",
            field="expand",
            details={"allowed_values": sorted(supported), "provided_value": expand},
        )
    return wanted


class FilterQuery(ListQuery):
    """A search body whose ``UNSUPPORTED`` fields are refused by name when sent."""

    UNSUPPORTED: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            refuse_unsupported(data, cls.UNSUPPORTED)
        return data


def refuse_query_params(request: Request, names: Iterable[str]) -> None:
    """The same refusal for the query parameters of a list route; ``false`` sets nothing
    (the SDK sends some flags as false by default, and false asks for nothing)."""
    refuse_unsupported(
        {
            name: value
            for name in request.query_params
            if (value := request.query_params.get(name)) and value.lower() != "false"
        },
        names,
    )


__all__ = ["FilterQuery", "refuse_expand", "refuse_query_params", "refuse_unsupported"]
