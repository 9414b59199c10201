"""The request-body fields the official SDKs send, taken from the installed SDKs themselves.

* ``flexprice==2.1.43``: each operation's own code names its HTTP method, its path and the
  model it serializes as the body (``_build_request(method=…, path=…)`` and
  ``serialize_request_body(…, models.X)``); the fields are that model's, by wire name.
* ``kaitencloud==1.0.0``: its methods build bodies as dict literals, so each method is
  called once with every parameter set to a sample of its annotation, against a transport
  that records the request instead of sending it; the fields are the recorded body's keys,
  with the values the SDK itself put on the wire.

An operation is *served* when the app's OpenAPI document has its method and path (path
parameters compared by position, not by name). ``python -m tests.api.sdk_fields --markdown``
writes docs/wire-fields.md from this inventory and the app's ``x-unsupported`` lists.
"""

from __future__ import annotations

import ast
import enum
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pydantic
import typing_extensions

SAMPLE_TEXT = "sample-1"
SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SdkOperation:
    sdk: str  # "flexprice" or "kaiten"
    name: str  # e.g. "subscriptions.create_subscription"
    method: str
    path: str  # as the app routes it: /v1/... or /api/..., parameters as {}
    # wire name -> a type-valid sample value, as the SDK would send it
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def route_key(method: str, path: str) -> str:
    return method.upper() + " " + re.sub(r"\{[^}]*\}", "{}", path)


# --- Flexprice ------------------------------------------------------------------------------


def _flexprice_calls() -> Iterator[tuple[str, str, str, str | None]]:
    """(operation name, method, path, body model expression) of every sync operation."""
    import flexprice

    root = Path(flexprice.__file__).parent
    for source in sorted(root.glob("*.py")):
        tree = ast.parse(source.read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in cls.body:
                if not isinstance(fn, ast.FunctionDef):
                    continue  # the async twins are AsyncFunctionDef
                method = path = model = None
                for node in ast.walk(fn):
                    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                        continue
                    if node.func.attr == "_build_request":
                        keywords = {k.arg: k.value for k in node.keywords}
                        method = ast.literal_eval(keywords["method"])
                        path = ast.literal_eval(keywords["path"])
                    elif node.func.attr == "serialize_request_body":
                        model = ast.unparse(node.args[4])
                if method and path:
                    yield f"{source.stem}.{fn.name}", method, path, model


def _model_of(expression: str) -> type[pydantic.BaseModel] | None:
    from flexprice import models

    match = re.fullmatch(r"(?:Optional\[)?models\.(\w+)\]?", expression)
    assert match, f"unexpected body expression {expression!r}"
    model = getattr(models, match.group(1))
    return model if isinstance(model, type) and issubclass(model, pydantic.BaseModel) else None


@cache
def flexprice_operations() -> tuple[SdkOperation, ...]:
    out = []
    for name, method, path, expression in _flexprice_calls():
        fields: dict[str, Any] = {}
        model = _model_of(expression) if expression else None
        if model is not None:
            for attr, info in model.model_fields.items():
                fields[info.alias or attr] = wire_sample(info.annotation)
        out.append(SdkOperation("flexprice", name, method, "/v1" + path, fields))
    return tuple(out)


# --- Kaiten ---------------------------------------------------------------------------------


class _Recorded(Exception):
    pass


@cache
def kaiten_operations() -> tuple[SdkOperation, ...]:
    from kaitencloud import KaitenClient

    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise _Recorded

    transport = httpx.Client(transport=httpx.MockTransport(record))
    client = KaitenClient(base_url="http://sdk.invalid", token="ksh_x", http_client=transport)
    client._api.max_retries = 0
    out = []
    for resource_name, resource in sorted(vars(client).items()):
        if resource_name.startswith("_"):
            continue
        for method_name, method in inspect.getmembers(resource, inspect.ismethod):
            if method_name.startswith("_"):
                continue
            arguments = _kaiten_arguments(method)
            if arguments is None:
                continue
            seen.clear()
            try:
                result = method(**arguments)
                if inspect.isgenerator(result) or isinstance(result, Iterator):
                    next(iter(result), None)
            except Exception:  # the request, once recorded, is all we want
                pass
            if not seen:
                continue
            request = seen[0]
            path = request.url.path.removeprefix("/api")
            slugs = {v for v in arguments.values() if isinstance(v, str)}
            path = "/".join("{}" if part in slugs else part for part in path.split("/"))
            body = json.loads(request.content) if request.content else None
            fields = dict(body) if isinstance(body, dict) else {}
            out.append(
                SdkOperation(
                    "kaiten",
                    f"{resource_name}.{method_name}",
                    request.method,
                    "/api" + path,
                    fields,
                )
            )
    return tuple(out)


def _kaiten_arguments(method: Any) -> dict[str, Any] | None:
    try:
        hints = typing.get_type_hints(method)
    except Exception:  # an unresolvable hint: not a body-sending method
        return None
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(method).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        arguments[name] = _python_sample(hints.get(name, str), name)
    return arguments


def _python_sample(annotation: Any, name: str = "") -> Any:
    """A value of ``annotation`` as a Kaiten SDK caller would pass it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return SAMPLE_TEXT
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        # Prefer a number for an entitlement value (bool | int | float | Mapping).
        for option in options:
            if option is int:
                return 1
        return _python_sample(options[0], name)
    if origin is typing.Literal:
        return args[0]
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if annotation is str:
        return f"{SAMPLE_TEXT}-{name}" if name else SAMPLE_TEXT
    if annotation is datetime:
        return SAMPLE_TIME
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    if typing_extensions.is_typeddict(annotation):
        hints = typing.get_type_hints(annotation)
        return {k: _python_sample(v, k) for k, v in hints.items()}
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return {"key": (_python_sample(args[1], "value") if len(args) == 2 else SAMPLE_TEXT)}
    if origin in (list, Sequence, tuple) or annotation in (list, Sequence):
        return [_python_sample(args[0] if args else str, name)]
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return None
    if callable(annotation) and not isinstance(annotation, type):
        return None  # e.g. a credential callable: left unset
    return None


# --- samples for pydantic annotations -------------------------------------------------------


def wire_sample(annotation: Any) -> Any:
    """A JSON value the annotation accepts, as the SDK would serialize it."""
    value = _pydantic_sample(annotation, depth=0)
    adapter = pydantic.TypeAdapter(annotation)
    return adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True)


def _pydantic_sample(annotation: Any, depth: int) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _pydantic_sample(args[0], depth)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None) and "Unset" not in repr(a)]
        return _pydantic_sample(options[0], depth)
    if origin is typing.Literal:
        return args[0]
    if annotation is bool:
        return True
    if annotation in (int, float):
        return 1
    if annotation is Decimal:
        return Decimal("1")
    if annotation is str:
        return SAMPLE_TEXT
    if annotation is datetime:
        return SAMPLE_TIME
    if annotation is date:
        return SAMPLE_TIME.date()
    if annotation is Any or annotation is object:
        return SAMPLE_TEXT
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if origin in (dict, Mapping) or annotation is dict:
        value_type = args[1] if len(args) == 2 else str
        return {"key": _pydantic_sample(value_type, depth + 1)}
    if origin in (list, Sequence, tuple, set) or annotation is list:
        return [_pydantic_sample(args[0] if args else str, depth + 1)]
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return {
            info.alias or name: _pydantic_sample(info.annotation, depth + 1)
            for name, info in annotation.model_fields.items()
            if info.is_required() or depth < 1
        }
    raise TypeError(f"no sample for {annotation!r}")


# --- the app side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AppOperation:
    key: str
    defined: frozenset[str]  # body members the app's model declares (wire names)
    unsupported: frozenset[str]  # members it refuses by name


@cache
def app_operations() -> dict[str, AppOperation]:
    from meterline.app import create_app

    document = create_app().openapi()
    schemas = document.get("components", {}).get("schemas", {})
    out: dict[str, AppOperation] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {})
            schema = _resolve(body.get("application/json", {}).get("schema", {}), schemas)
            out[route_key(method, path)] = AppOperation(
                route_key(method, path),
                frozenset(schema.get("properties", {})),
                frozenset(schema.get("x-unsupported", ())),
            )
    return out


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(schemas[schema["$ref"].rpartition("/")[2]], schemas)
    for option in schema.get("anyOf", ()):
        if option.get("type") != "null":
            return _resolve(option, schemas)
    return schema


def served() -> list[tuple[SdkOperation, AppOperation]]:
    """Every SDK operation with a request body that the app routes, with the app's side."""
    app = app_operations()
    pairs = []
    for op in (*flexprice_operations(), *kaiten_operations()):
        found = app.get(route_key(op.method, op.path))
        if found is not None and op.fields:
            pairs.append((op, found))
    return pairs


def markdown() -> str:
    """docs/wire-fields.md: the fields Meterline refuses today, per operation."""
    lines = [
        "# Request fields Meterline refuses",
        "",
        "Generated by `python -m tests.api.sdk_fields --markdown` from the installed",
        "`flexprice==2.1.43` and `kaitencloud==1.0.0` SDKs and the app's OpenAPI document",
        "(`x-unsupported` on each request body); `tests/api/test_field_inventory.py` fails",
        "when this file is out of date.",
        "",
        "Every field an SDK sends is either honoured (a test shows its effect on a later read)",
        "or refused: a request that sets it (to anything but null, an empty string, list or",
        "object, or `false`) is answered 400 on `/v1`",
        '(`{"code":"validation_error","message":"<field> is not supported",'
        '"details":{"field":"<field>"}}`) and 422 on `/api` (problem+json, `errors[0].location`',
        "`body.<field>`), before anything is written. JSON members that no SDK model defines are",
        "ignored on `/v1`, as upstream does, and refused on `/api`, whose schemas are closed.",
        "",
        "`skip_onboarding_workflow` on `POST /v1/customers` is accepted: it is a client UI",
        "hint, and Meterline runs no onboarding workflow, so skipping one is what always",
        "happens (`onboarding_workflow_name`, which would choose a workflow, is refused).",
        "",
        "| operation | SDK method | refused fields |",
        "|---|---|---|",
    ]
    for op, app in sorted(served(), key=lambda pair: (pair[0].path, pair[0].method)):
        refused = sorted(set(op.fields) & app.unsupported)
        if refused:
            names = ", ".join(f"`{name}`" for name in refused)
            lines.append(f"| `{op.method} {op.path}` | `{op.name}` | {names} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown())
    else:
        for op, app in served():
            for name in op.fields:
                state = "refused" if name in app.unsupported else "?"
                print(op.sdk, op.name, op.key, name, state)
