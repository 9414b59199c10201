"""Fields a client SDK defines that Meterline does not implement yet: refused by name.

A request body model lists them in ``unsupported``; a request that sets one (to anything
but null, ``""``, ``[]``, ``{}`` or ``false``, which mean "not used") is refused before any
work is done, with an ``InvalidRequest`` naming the field, which each dialect renders in its
own shape (Flexprice 400, Kaiten 422). The list is published in the body's OpenAPI schema as
``x-unsupported`` and in docs/wire-fields.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from meterline.kernel.errors import InvalidRequest

SCHEMA_KEY = "x-unsupported"


def is_unset(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, str | list | dict) and not value)


def refuse_unsupported(unsupported: frozenset[str], data: Any) -> None:
    """Raise ``InvalidRequest`` naming the first of ``unsupported`` that ``data`` sets."""
    if not unsupported or not isinstance(data, dict):
        return
    sent = sorted(name for name in unsupported if not is_unset(data.get(name)))
    if sent:
        names = ", ".join(sent)
        verb = "is" if len(sent) == 1 else "are"
        raise InvalidRequest(
            f"{names} {verb} not supported by this server", field=sent[0], details={"fields": sent}
        )


def publish_unsupported(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """``json_schema_extra`` of a body base class: the model's ``unsupported`` list."""
    unsupported: frozenset[str] = getattr(model, "unsupported", frozenset())
    if unsupported:
        schema[SCHEMA_KEY] = sorted(unsupported)


class RefusesUnsupported(BaseModel):
    """The base of every dialect's request bodies: the fields listed in ``unsupported`` are
    refused by name when set, and published in the body's schema. Each dialect's base adds
    its own policy for unknown fields (``model_config`` merges)."""

    model_config = ConfigDict(json_schema_extra=publish_unsupported)
    unsupported: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        refuse_unsupported(cls.unsupported, data)
        return data
