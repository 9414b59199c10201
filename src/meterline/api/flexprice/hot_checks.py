"""The entitlement checks' fast routes (``api/fastpath.py``) in front of their FastAPI routes.

``GET /v1/customers/usage`` and ``POST /v1/entitlements/check`` without ``consume`` are
answered from memory (``entitlements/read_model.py``), with no ORM and no framework machinery:
through FastAPI and the ORM they cost ~2 ms each, which capped them at a few hundred
requests a second. Whatever the shortcut does not cover (a subscription filter, a feature
the customer is not granted, a consumption, a body that does not validate, a repeated
parameter) is declined to the FastAPI route behind it, which stays the documented
operation and the one implementation of every error and of everything else. Both answer
with the same renderers (``summary_body``, ``check_out``) and the same decision
(``checks.verdict``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from meterline.accounts.principal import Principal
from meterline.api.deps import action_of, authenticate_request, require_vendor
from meterline.api.fastpath import FastRoute
from meterline.api.flexprice.common import decimal_text, split_csv
from meterline.api.flexprice.customer_usage import (
    customer_usage_summary,
    summary_body,
    summary_feature_out,
)
from meterline.api.flexprice.entitlements import CheckIn, check_entitlement, check_out
from meterline.api.json import dumps
from meterline.api.limits import session_limiter
from meterline.entitlements import checks
from meterline.entitlements.checks import FeatureAccess
from meterline.entitlements.read_model import CustomerRef, HotReads, Reader, Snapshot
from meterline.kernel.errors import InvalidRequest

MAX_LIST = 1000  # as the FastAPI routes' Query(max_length=1000)


def _caller(reader: Reader, request: Request) -> Principal:
    """As ``deps.vendor_principal``, with the key resolved on the request's connection."""
    principal = authenticate_request(request, reader.principal)
    return require_vendor(principal, action_of(request.method), request.scope["path"])


def _single(params: QueryParams, name: str) -> tuple[bool, str | None]:
    """(covered, value): a parameter given more than once is left to the route behind."""
    values = params.getlist(name)
    if len(values) > 1:
        return False, None
    return True, values[0] if values else None


def _many(params: QueryParams, name: str) -> tuple[bool, list[str] | None]:
    values = params.getlist(name)
    if len(values) > MAX_LIST:
        return False, None
    return True, split_csv(values) if values else None


SUMMARY_PARAMS = frozenset(
    {"customer_id", "customer_lookup_key", "feature_ids", "feature_lookup_keys"}
)


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    customer_id: str | None
    lookup_key: str | None
    feature_ids: list[str] | None
    feature_keys: list[str] | None


def parse_summary(request: Request, _body: bytes) -> SummaryQuery | None:
    params = request.query_params
    if any(name not in SUMMARY_PARAMS for name in params):
        return None
    ok_id, customer_id = _single(params, "customer_id")
    ok_key, lookup_key = _single(params, "customer_lookup_key")
    ok_ids, feature_ids = _many(params, "feature_ids")
    ok_keys, feature_keys = _many(params, "feature_lookup_keys")
    if not (ok_id and ok_key and ok_ids and ok_keys):
        return None
    return SummaryQuery(customer_id, lookup_key, feature_ids, feature_keys)


async def usage_summary(request: Request, query: SummaryQuery) -> Response | None:
    customer_id, lookup_key = query.customer_id, query.lookup_key
    feature_ids, feature_keys = query.feature_ids, query.feature_keys

    def work(reader: Reader) -> Response | None:
        principal = _caller(reader, request)
        if customer_id:
            snapshot = reader.snapshot(principal, "id", customer_id)
        elif lookup_key:
            snapshot = reader.snapshot(principal, "external_id", lookup_key)
        else:
            raise InvalidRequest(
                "customer_id or customer_lookup_key is required", field="customer_id"
            )
        accesses = snapshot.accesses
        if feature_ids or feature_keys:
            wanted = set(feature_ids or ())
            for key in feature_keys or ():
                granted = snapshot.by_lookup_key.get(key)
                if granted is None:
                    return None  # unknown (404) or not granted: the route behind knows
                wanted.add(granted.feature.id)
            accesses = tuple(a for a in accesses if a.feature.id in wanted)
        usages = {a.feature.id: reader.usage(snapshot, a) for a in accesses}
        return _answer(
            snapshot,
            ("summary", *usages),
            tuple(usages.values()),
            lambda: summary_body(snapshot.customer, accesses, _rendered(snapshot, usages)),
        )

    hot: HotReads = request.app.state.hot
    return await hot.run(work, session_limiter(request.scope))


def _answer(
    snapshot: Snapshot, key: tuple[str, ...], usages: object, build: Callable[[], Any]
) -> Response:
    """The JSON answer, encoded once per snapshot and usage: a snapshot's answer depends on
    nothing else, so while usage stands still the bytes are reused."""
    kept = snapshot.rendered.get(key)
    if kept is not None and kept[0] == usages:
        body: bytes = kept[1]
    else:
        body = dumps(build())
        snapshot.rendered[key] = (usages, body)
    return Response(body, media_type="application/json")


def _rendered(
    snapshot: Snapshot, usages: dict[str, Decimal]
) -> Callable[[FeatureAccess], dict[str, Any]]:
    """A grant's summary entry: its usage-free parts rendered once per snapshot."""

    def render(access: FeatureAccess) -> dict[str, Any]:
        usage = usages[access.feature.id]
        static = snapshot.rendered.get(access.feature.id)
        if static is None:
            static = snapshot.rendered[access.feature.id] = summary_feature_out(access)
        return {
            **static,
            "current_usage": decimal_text(usage),
            "usage_percent": decimal_text(checks.usage_fraction(access.usage_limit, usage)),
        }

    return render


def parse_check(_request: Request, body: bytes) -> CheckIn | None:
    """The check, read as FastAPI reads it (the same model, from the same JSON), when it is
    one the shortcut covers: no ``consume`` (which locks and writes) and a customer named."""
    try:
        parsed = CheckIn.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return None  # the route behind answers the 400 in its words
    if parsed.consume is not None or not (parsed.customer_id or parsed.external_customer_id):
        return None
    return parsed


async def entitlement_check(request: Request, parsed: CheckIn) -> Response | None:
    customer_ref: tuple[CustomerRef, str]
    if parsed.customer_id:
        customer_ref = ("id", parsed.customer_id)
    else:
        customer_ref = ("external_id", parsed.external_customer_id or "")

    def work(reader: Reader) -> Response | None:
        principal = _caller(reader, request)
        snapshot = reader.snapshot(principal, *customer_ref)
        if parsed.feature_id:
            access = snapshot.by_feature.get(parsed.feature_id)
        elif parsed.feature_lookup_key:
            access = snapshot.by_lookup_key.get(parsed.feature_lookup_key)
        else:
            return None
        if access is None:
            return None  # not granted, or no such feature: the route behind knows which
        granted = access
        usage = reader.usage(snapshot, granted) if checks.needs_usage(granted) else None

        def build() -> dict[str, Any]:
            current = granted if usage is None else replace(granted, current_usage=usage)
            return check_out(checks.verdict(snapshot.customer, granted.feature, current))

        return _answer(snapshot, ("check", granted.feature.id), usage, build)

    hot: HotReads = request.app.state.hot
    return await hot.run(work, session_limiter(request.scope))


FAST_ROUTES: list[FastRoute[Any]] = [
    FastRoute(
        "customer_usage_summary",
        "GET",
        "/v1/customers/usage",
        customer_usage_summary,
        parse_summary,
        usage_summary,
        reads_body=False,
        slot="own",
    ),
    FastRoute(
        "entitlement_check",
        "POST",
        "/v1/entitlements/check",
        check_entitlement,
        parse_check,
        entitlement_check,
        slot="own",
    ),
]
