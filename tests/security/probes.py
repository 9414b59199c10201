"""Requests built from the OpenAPI document: the smallest body and query each operation
accepts, with tenant A's real ids wherever a field or path parameter names a row. Shared by
the matrices that call every operation (isolation, hostile values)."""

from __future__ import annotations

import re
from typing import Any

from tests.security.conftest import Victim

METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) of /v1 and /api in the document, sorted."""
    return sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith(("/v1", "/api"))
        for method in item
        if method in METHODS
    )


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def minimal(spec: dict[str, Any], schema: dict[str, Any], name: str, victim: Victim) -> Any:
    """A small value the schema allows; fields naming tenant A's rows get their real ids."""
    if name in victim.body_ids:
        return victim.body_ids[name]
    if name.endswith("_ids") and name[:-1] in victim.body_ids:
        return [victim.body_ids[name[:-1]]]
    if name == "currency":
        return "usd"
    schema = resolve(spec, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if resolve(spec, s).get("type") != "null"]
            return minimal(spec, options[0], name, victim) if options else None
    if "allOf" in schema:
        return minimal(spec, schema["allOf"][0], name, victim)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        body = {}
        for prop, sub in properties.items():
            wanted = prop in schema.get("required", ()) or prop in victim.body_ids
            if wanted:
                body[prop] = minimal(spec, sub, prop, victim)
        return body
    if kind == "array":
        if schema.get("minItems", 0) > 0:
            return [minimal(spec, schema.get("items", {}), name, victim)]
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time" or name.endswith(("Date", "_date", "_at")):
        return "2026-01-01T00:00:00Z"
    if schema.get("pattern"):
        return "probe-x1"
    return "probe"


def path_value(path: str, param: str, victim: Victim) -> str:
    if param == "lookup_key" and path.startswith("/v1/addons"):
        return victim.path_ids["addon_lookup_key"]
    if param == "lookup_key":
        return victim.path_ids[
            "price_lookup_key" if path.startswith("/v1/prices") else "external_id"
        ]
    # A parameter no seeded row fills (a route newer than this file) gets an id that
    # exists nowhere: the matrix still checks every refusal, only the owner control skips it.
    return victim.path_ids.get(param, f"unseeded-{param}")


def build_request(
    spec: dict[str, Any], victim: Victim, method: str, path: str
) -> tuple[str, Any, dict[str, Any]]:
    """(url, JSON body or None, query parameters) of the smallest call of an operation."""
    operation = spec["paths"][path][method.lower()]
    url = re.sub(r"\{(\w+)\}", lambda m: path_value(path, m.group(1), victim), path)
    params: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter.get("in") != "query":
            continue
        if name in victim.body_ids or parameter.get("required"):
            params[name] = minimal(spec, parameter.get("schema", {}), name, victim)
    body = None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = minimal(spec, content["application/json"]["schema"], "", victim)
    return url, body, params
