"""Wire helpers shared by the /v1 routers: pages, list envelopes, request and search bodies."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Protocol

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from meterline.api.free_json import FreeObject
from meterline.api.http.unsupported import RefusesUnsupported
from meterline.api.json import json_response
from meterline.kernel import money
from meterline.kernel.instants import OptionalInstant

MAX_PAGE_SIZE = 1000
# Offsets past this are refused (400): beyond it a page is empty anyway, and a number past
# 64 bits overflowed the database driver (a 500 before this bound).
MAX_OFFSET = 1_000_000_000


def decimal_text(value: Decimal | None) -> str | None:
    """Decimals travel as strings on /v1: ``Decimal("1.500")`` → ``"1.5"``."""
    if value is None:
        return None
    return money.decimal_text(value)


def list_envelope(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "pagination": {"total": total, "limit": limit, "offset": offset}}


class Window(Protocol):
    """What a page was asked for: a list route's ``Page`` or a search body."""

    @property
    def limit(self) -> int: ...

    @property
    def offset(self) -> int: ...


def list_response(items: list[Any], total: int, page: Window) -> Response:
    """The answer of a list or search route: ``items`` in the list envelope."""
    return json_response(list_envelope(items, total, page.limit, page.offset))


class PageQuery(BaseModel):
    """``limit`` and ``offset``, the query parameters of every /v1 list route. A query
    model: FastAPI reads and documents its fields as the route's own parameters, in place."""

    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class ListPageQuery(PageQuery):
    """The page with ``status``, ``sort`` and ``order``: the leading parameters of a list
    route that reads as its search body (``ListQuery``)."""

    status: str | None = None
    sort: str | None = None
    order: str | None = None


Page = Annotated[PageQuery, Query()]
ListPage = Annotated[ListPageQuery, Query()]


class WireModel(RefusesUnsupported):
    """Request bodies: unknown fields are ignored, as upstream does; fields the SDK defines
    that Meterline does not implement are listed in ``unsupported`` and refused by name
    (400), so that nothing a client sends is silently dropped (api/http/unsupported.py)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SearchFilter(WireModel):
    field: str
    operator: str = "eq"
    data_type: str | None = None
    value: FreeObject | None = None


class SearchSort(WireModel):
    field: str
    direction: str = "desc"


class ListQuery(WireModel):
    """The common fields of every ``POST /<resource>/search`` body."""

    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    status: str | None = None
    sort: list[SearchSort] | str | None = None
    order: str | None = None
    expand: str | None = None
    start_time: OptionalInstant = None
    end_time: OptionalInstant = None
    filters: list[SearchFilter] | None = None

    def terms(self) -> dict[str, Any]:
        """The fields every search service applies, by the services' names (``expand`` is
        the route's to refuse or to render)."""
        return {
            "limit": self.limit,
            "offset": self.offset,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "filters": self.filters,
            "sort": self.sort,
            "order": self.order,
        }


def split_csv(values: list[str] | str | None) -> list[str] | None:
    """Array query params arrive comma-joined from the SDK, or repeated: accept both."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else values
    out = [part.strip() for item in items for part in item.split(",") if part.strip()]
    return out or None
