"""The date matrix: every operation of /v1 and /api in the OpenAPI document that takes a
date-time — a query parameter or a body field, at any depth — called by the owner with that
one value set to an instant whose UTC value lies outside the supported range. Each answer
is the dialect's refusal of invalid input (400 on /v1 and /v1/usage, Kaiten's 422 on /api)
in the dialect's shape, and names the field; never a 500.

Like the isolation matrix it reads the operations from the application's document, so a
new route with a date-time is covered the moment it is mounted, and
``test_the_matrix_found_the_date_operations`` keeps it from passing vacuously.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from meterline.app import create_app
from meterline.settings import Settings
from tests.conftest import Server
from tests.security.conftest import Victim, seed_victim, skip_clickhouse
from tests.security.probes import build_request, minimal, operations, resolve

# Both are valid RFC 3339 text; their UTC values are past year 9999 and before year 1.
OUT_OF_RANGE = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")
# String fields that carry an instant, whatever the schema says of their format.
_DATE_NAME = re.compile(r"(_date|_time|_at|Date|_anchor|_from|timestamp|_utc)$")
_NOT_A_DATE = {"timezone"}

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()

# A field's place in a request: ("query", name) or ("body", key, "[]", key, ...).
Place = tuple[str, ...]


def _is_instant(schema: dict[str, Any], name: str) -> bool:
    if schema.get("format") == "date-time":
        return True
    return (
        schema.get("type") == "string"
        and "enum" not in schema
        and name not in _NOT_A_DATE
        and bool(_DATE_NAME.search(name))
    )


def _options(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(spec, schema)
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        return [o for s in options for o in _options(spec, s)]
    return [schema]


def _instant_places(
    spec: dict[str, Any], schema: dict[str, Any], name: str, place: Place, depth: int = 0
) -> Iterator[Place]:
    if depth > 8:
        return
    found = False
    for option in _options(spec, schema):
        if not found and _is_instant(option, name):
            found = True
            yield place
        for prop, sub in option.get("properties", {}).items():
            yield from _instant_places(spec, sub, prop, (*place, prop), depth + 1)
        if option.get("type") == "array" and "items" in option:
            yield from _instant_places(spec, option["items"], name, (*place, "[]"), depth + 1)


def instant_places(spec: dict[str, Any], method: str, path: str) -> list[Place]:
    operation = spec["paths"][path][method.lower()]
    places: list[Place] = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query":
            schema = parameter.get("schema", {})
            if any(_is_instant(o, parameter["name"]) for o in _options(spec, schema)):
                places.append(("query", parameter["name"]))
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        places.extend(_instant_places(spec, schema, "", ("body",)))
    return places


def _variant_of(spec: dict[str, Any], holder: dict[str, Any], value: dict[str, Any]) -> bool:
    """Whether ``value`` is of the union member ``holder``: it has only the member's fields
    and the member's discriminator value (a ``const``, or a one-value ``enum``). A value built
    for another member of a discriminated union is rebuilt for this one, so the probe
    reports the date, not an extra or mismatched field."""
    properties = holder.get("properties", {})
    if not set(value) <= set(properties):
        return False
    for key, given in value.items():
        schema = resolve(spec, properties[key])
        fixed = schema.get("const", (schema.get("enum") or [None, None])[0])
        if fixed is not None and len(schema.get("enum", [fixed])) == 1 and given != fixed:
            return False
    return True


def _set(
    spec: dict[str, Any], schema: dict[str, Any], value: Any, steps: Place, new: Any, victim: Victim
) -> Any:
    """``value`` with the field at ``steps`` set to ``new`` (missing levels built minimal)."""
    if not steps:
        return new
    step, rest = steps[0], steps[1:]
    options = _options(spec, schema)
    if step == "[]":
        array = next(o for o in options if o.get("type") == "array")
        items = array.get("items", {})
        out = list(value) if isinstance(value, list) else []
        if not out:
            out.append(minimal(spec, items, "", victim))
        out[0] = _set(spec, items, out[0], rest, new, victim)
        return out
    holder = next(o for o in options if step in o.get("properties", {}))
    sub = holder["properties"][step]
    fits = isinstance(value, dict) and _variant_of(spec, holder, value)
    out = dict(value) if fits else minimal(spec, holder, "", victim)
    out[step] = _set(spec, sub, out.get(step), rest, new, victim)
    return out


CASES = [
    (method, path, place)
    for method, path in operations(_SPEC)
    for place in instant_places(_SPEC, method, path)
]


@dataclass
class World:
    victim: Victim
    http: httpx.Client


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    skip_clickhouse(server)
    victim = seed_victim(server)
    headers = {"Authorization": f"Bearer {victim.tenant.key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        yield World(victim=victim, http=http)


def _assert_refused(response: httpx.Response, path: str, field: str, what: str) -> None:
    if path.startswith("/api"):
        # Kaiten answers every invalid field with its 422 problem, the failing location named.
        assert response.status_code == 422, (what, response.status_code, response.text[:400])
        assert response.headers["content-type"].startswith("application/problem+json"), what
        body = response.json()
        assert {"type", "title", "status", "detail", "code"} <= set(body), (what, body)
        assert any(field in e["location"] for e in body.get("errors", [])), (what, body)
        return
    assert response.status_code == 400, (what, response.status_code, response.text[:400])
    body = response.json()
    if path == "/v1/usage":
        assert set(body) == {"error"}, (what, body)
        assert {"code", "message", "details"} <= set(body["error"]), (what, body)
    else:
        assert {"code", "message", "http_status_code", "details"} <= set(body), (what, body)
        assert body["http_status_code"] == 400, (what, body)
    assert field in response.text, (what, body)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("method", "path", "place"),
    CASES,
    ids=[f"{m} {p} {'.'.join(place)}" for m, p, place in CASES],
)
def test_an_out_of_range_instant_is_refused_by_name(
    world: World, method: str, path: str, place: Place, value: str
) -> None:
    url, body, params = build_request(_SPEC, world.victim, method, path)
    if place[0] == "query":
        params = {**params, place[1]: value}
    else:
        schema = _SPEC["paths"][path][method.lower()]["requestBody"]["content"]
        body = _set(
            _SPEC, schema["application/json"]["schema"], body, place[1:], value, world.victim
        )
    response = world.http.request(method, url, json=body, params=params)
    _assert_refused(response, path, place[-1], f"{method} {path} {place} = {value}")


def test_the_matrix_found_the_date_operations() -> None:
    found = {(method, path) for method, path, _ in CASES}
    assert len(found) >= 30, sorted(found)
    assert len(CASES) >= 50
    for must in (("GET", "/v1/usage"), ("POST", "/v1/events/bulk"), ("POST", "/api/instances")):
        assert must in found


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_search_filter_date_out_of_range_is_refused(world: World, value: str) -> None:
    """The ``date`` of a search filter is an instant too, though no schema says so."""
    condition = {"field": "created_at", "operator": "after", "value": {"date": value}}
    response = world.http.post("/v1/customers/search", json={"filters": [condition]})
    _assert_refused(response, "/v1/customers/search", "filters", f"filter date {value}")
    assert "2200-01-01T00:00:00Z" in response.json()["message"]
