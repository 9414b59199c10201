"""``UNSET``: a field an update did not send, told apart from an explicit ``null``.

An update command's fields default to ``UNSET``; ``None`` is a value the client sent (for
``usage_limit``, "unlimited"). The API layer builds such a command from the fields its wire
model was given (pydantic's ``model_fields_set``), so the rule lives here once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar


class Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = Unset.UNSET
C = TypeVar("C")


def sent(command: type[C], given: Iterable[str], values: Mapping[str, Any]) -> C:
    """``command`` (a dataclass whose fields default to ``UNSET``) built from the ``given``
    names only; the names it does not declare are ignored."""
    names = {f.name for f in fields(command)}  # type: ignore[arg-type]
    return command(**{name: values[name] for name in given if name in names})
