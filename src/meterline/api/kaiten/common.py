"""Shared pieces of the /api dialect: scope checks, pagination, typed values, renderers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from pydantic import ConfigDict, Field, StrictBool

from meterline.accounts.principal import Principal
from meterline.api.deps import authenticate_request
from meterline.api.http.unsupported import RefusesUnsupported
from meterline.api.json import json_response
from meterline.api.kaiten.ids import wire_id
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest, PermissionDenied
from meterline.licensing.values import TypedValue

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
SLUG = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"


def scope(
    action: Literal["read", "write"], module: str
) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency: the caller's principal, which must hold ``<action>:<module>``."""

    async def check(request: Request) -> Principal:
        return authorize(request, action, module)

    return check


def authorize(request: Request, action: Literal["read", "write"], module: str) -> Principal:
    return require_module(authenticate_request(request), action, module)


def require_module(
    principal: Principal, action: Literal["read", "write"], module: str
) -> Principal:
    """``principal``, if it may ``action`` on the licensing ``module`` (the dashboard's
    licensing pages ask the same)."""
    if principal.is_customer_scoped:
        raise PermissionDenied("A key scoped to one customer cannot use the licensing API")
    if not principal.may(action, module):
        raise PermissionDenied(f"This key lacks the {action}:{module} scope")
    return principal


ReadEntitlements = Annotated[Principal, Depends(scope("read", "entitlements"))]
WriteEntitlements = Annotated[Principal, Depends(scope("write", "entitlements"))]
ReadLicenses = Annotated[Principal, Depends(scope("read", "licenses"))]
WriteLicenses = Annotated[Principal, Depends(scope("write", "licenses"))]
ReadCustomers = Annotated[Principal, Depends(scope("read", "customers"))]
WriteCustomers = Annotated[Principal, Depends(scope("write", "customers"))]
ReadInstances = Annotated[Principal, Depends(scope("read", "instances"))]
WriteInstances = Annotated[Principal, Depends(scope("write", "instances"))]


class Page:
    """``limit`` 1..200 (default 50) and an opaque ``cursor``."""

    def __init__(
        self,
        limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size, 1-200."),
        cursor: str | None = Query(None, max_length=100, description="From nextCursor."),
    ) -> None:
        self.limit = limit
        self.offset = 0
        if cursor:
            try:
                text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
                kind, _, number = text.partition(":")
                if kind != "o" or not number.isdigit():
                    raise ValueError(cursor)
                self.offset = int(number)
            except (ValueError, UnicodeError, binascii.Error) as exc:
                raise InvalidRequest("cursor is not valid", field="query.cursor") from exc

    def answer(self, rows: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
        """The page's answer: ``rows`` holds up to ``limit + 1`` items (the services' list
        functions read one more), and the extra one says there is more."""
        more = len(rows) > self.limit
        body: dict[str, Any] = {"items": [render(r) for r in rows[: self.limit]], "hasMore": more}
        if more:
            token = f"o:{self.offset + self.limit}".encode("ascii")
            body["nextCursor"] = base64.urlsafe_b64encode(token).decode("ascii")
        return json_response(body)


class Body(RefusesUnsupported):
    """Request bodies: unknown fields are refused, as the contract's schemas say; fields the
    SDK sends that Meterline does not implement are listed in ``unsupported`` and refused by
    name, as "not supported" rather than as unknown (api/http/unsupported.py)."""

    model_config = ConfigDict(extra="forbid")


class NumberValue(Body):
    type: Literal["number"]
    value: money.Quantity
    event_count: int | None = Field(default=None, description="Read-only; ignored.")


class BooleanValue(Body):
    type: Literal["boolean"]
    value: StrictBool


class ObjectValue(Body):
    type: Literal["object"]
    value: dict[str, Any]


TypedValueIn = Annotated[NumberValue | BooleanValue | ObjectValue, Field(discriminator="type")]


def typed_in(value: NumberValue | BooleanValue | ObjectValue) -> TypedValue:
    return TypedValue(value.type, value.value)


def typed_out(value: TypedValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    body: dict[str, Any] = {"type": value.kind, "value": value.value}
    if value.kind == "number" and value.event_count:
        body["event_count"] = value.event_count
    return body


def user(identifier: str | None) -> dict[str, Any]:
    return {"id": wire_id(identifier) if identifier else "system"}


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """Omit absent members, as the upstream server does (Go ``omitempty``)."""
    return {k: v for k, v in body.items() if v is not None}
