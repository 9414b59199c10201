"""Fast JSON responses.

Decimals are written as exact JSON number literals (msgspec copies their digits; no float
in between). Where a wire contract wants a decimal as a string — money on /v1 — the
serializer of that resource converts it first. Both dialects write instants with
:func:`iso`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder(decimal_format="number")


def dumps(content: Any) -> bytes:
    return _encoder.encode(content)


def json_response(
    content: Any,
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    return Response(dumps(content), status_code=status, headers=headers, media_type=media_type)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, as the upstream APIs write instants."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
