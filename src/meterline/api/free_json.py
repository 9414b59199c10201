"""Free-form JSON on the wire: metadata, settings, flag values and contexts, filter values.

Their values are kept as sent, so a number there is whatever the JSON parser made of it:
``1e999999`` parses to an infinite float, which no JSON document can hold and PostgreSQL's
``json`` type refuses. :data:`FreeObject` and :data:`FreeValue` refuse a non-finite number
anywhere inside, so the request is answered with a validation error naming the field,
never a failure at the database, and every backend stores the same.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator


def _storable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError("the value holds a number out of range (JSON numbers are finite)") from exc
    return value


FreeObject = Annotated[dict[str, Any], AfterValidator(_storable)]
FreeValue = Annotated[Any, AfterValidator(_storable)]
