"""Which route a path names, decided once for every router: unknown routes and 405s.

A template such as ``/v1/prices/{price_id}`` matches ``/v1/prices/units`` too, and the route
would answer "Price with ID units was not found" for a route the contract defines and
Meterline does not serve. Here a path segment that is a *route word* (a literal some other
template has at the same place) is never taken for an id: the most specific templates that
match a path decide it, as in the contract's own router.

* the most specific templates are served and one serves the method: the router goes on;
* they are served, none with this method: 405, with ``Allow`` listing the methods they serve;
* they belong to the contract but are not served here: 404 saying the route is unknown.

The table is built from the application's OpenAPI document (the same declarations the
routers carry, the fast paths' included) and from :data:`UPSTREAM_ONLY`, the contract's
templates that Meterline does not serve and that a served template would otherwise swallow
(``tests/api/test_routes.py`` derives them from the SDK and fails when one is missing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

# Contract templates Meterline does not serve, each a literal where a served template has
# an id (the rest of the contract's unserved paths match no template and are 404 anyway).
UPSTREAM_ONLY: tuple[str, ...] = (
    "/v1/prices/units",
    "/v1/subscriptions/lineitems/search",
    "/v1/subscriptions/schedules",
    "/v1/tenants/billing",
)

_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.strip("/").split("/")) if path.strip("/") else ()


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


@dataclass(frozen=True)
class Template:
    segments: tuple[str, ...]
    methods: frozenset[str]  # empty: a contract route not served here

    def matches(self, segments: tuple[str, ...]) -> bool:
        if len(segments) != len(self.segments):
            return False
        return all(
            (_is_param(t) and s != "") or t == s
            for t, s in zip(self.segments, segments, strict=True)
        )

    @property
    def specificity(self) -> tuple[int, ...]:
        """Smaller is more specific: a literal before a parameter, position by position."""
        return tuple(1 if _is_param(t) else 0 for t in self.segments)


@dataclass(frozen=True)
class Verdict:
    status: int  # 0: let the router go on; 404 or 405
    allow: tuple[str, ...] = ()


GO_ON = Verdict(0)


class RouteTable:
    def __init__(self, served: dict[str, Iterable[str]], upstream_only: Iterable[str]) -> None:
        templates: list[Template] = []
        for path, methods in served.items():
            allowed = {m.upper() for m in methods if m.upper() in _HTTP_METHODS}
            if "GET" in allowed:
                allowed.add("HEAD")
            templates.append(Template(_segments(path), frozenset(allowed)))
        known = {t.segments for t in templates}
        for path in upstream_only:
            if _segments(path) not in known:
                templates.append(Template(_segments(path), frozenset()))
        self.templates = templates
        # Literals that sit where another template of the same length has a parameter:
        # only a path holding one of these can be mistaken for an id.
        self.words: frozenset[str] = frozenset(
            word
            for t in templates
            for i, word in enumerate(t.segments)
            if not _is_param(word)
            and any(
                len(o.segments) == len(t.segments) and _is_param(o.segments[i]) for o in templates
            )
        )

    @classmethod
    def from_openapi(cls, document: dict[str, Any]) -> RouteTable:
        paths: dict[str, Any] = document.get("paths", {})
        return cls({p: ops.keys() for p, ops in paths.items()}, UPSTREAM_ONLY)

    def verdict(self, method: str, path: str) -> Verdict:
        """What the path names for ``method`` (``GO_ON`` when no template matches it)."""
        segments = _segments(path)
        found = [t for t in self.templates if t.matches(segments)]
        if not found:
            return GO_ON
        best = min(t.specificity for t in found)
        chosen = [t for t in found if t.specificity == best]
        allow = sorted({m for t in chosen for m in t.methods}, key=_HTTP_METHODS.index)
        if not allow:
            return Verdict(404)
        if method.upper() in allow:
            return GO_ON
        return Verdict(405, tuple(allow))

    def may_swallow(self, path: str) -> bool:
        """Cheap: whether ``path`` holds a route word (only then can a template mistake it)."""
        return not self.words.isdisjoint(path.split("/"))


def unknown_route_message(method: str, path: str) -> str:
    return f"Unknown route: {method} {path} is not a route of this API"


def table_of(app: Any) -> RouteTable:
    """The application's table, built on first use (the OpenAPI document is complete once
    every router is included)."""
    table: RouteTable | None = getattr(app.state, "route_table", None)
    if table is None:
        table = RouteTable.from_openapi(app.openapi())
        app.state.route_table = table
    return table


class RouteWordGuard(BaseRoute):
    """Placed ahead of the routers: takes a request only when a route word would otherwise
    be read as an id, and answers it 404 (unknown route) or 405 (with ``Allow``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        table = table_of(scope["app"])
        path = scope["path"]
        if not table.may_swallow(path):
            return Match.NONE, {}
        verdict = table.verdict(scope["method"], path)
        if verdict.status == 0:
            return Match.NONE, {}
        return Match.FULL, {"route_verdict": verdict}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        verdict: Verdict = scope["route_verdict"]
        if verdict.status == 405:
            raise HTTPException(405, headers={"Allow": ", ".join(verdict.allow)})
        raise HTTPException(404, unknown_route_message(scope["method"], scope["path"]))
