"""Every fast route (api/fastpath.py) answers exactly what the FastAPI route it shadows answers.

One table of requests per fast route: each request is sent to the fast path and, with
``fastpath.DECLINED`` set on it (by a test-only wrapper, on a header), to the FastAPI route
behind it, over real HTTP to one in-process server, and both must answer the same status,
content type and body. Each side has its own customer and its own Kaiten instance, set up
alike, so that writes (ingest, consumption, usage reports) leave both sides in the same
state; their ids are the only difference allowed, with the clock's ``timestamp``.

Each case also says whether the fast path must take it (``FAST``) or decline it
(``DECLINED``), so that a fast path that declined everything would fail here too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.api import fastpath
from meterline.api.kaiten.usage import UsageReportIn, parse_report
from meterline.api.limits import ConcurrencyLimit
from meterline.app import create_app
from meterline.settings import Settings
from tests.api.kaiten.conftest import mint_key
from tests.conftest import Server, Tenant, new_tenant, serve_in_process, unique

SIDE_HEADER = b"x-parity-side"
ANSWERED_HEADER = "x-parity-answered"


class Switch:
    """Test-only: ``x-parity-side: framework`` sends a request past the fast routes, and
    every answer says which fast route (if any) took its request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (SIDE_HEADER, b"framework") in scope["headers"]:
            scope[fastpath.DECLINED] = True

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                name = (scope.get(fastpath.ANSWERED) or "").encode()
                headers = [*message.get("headers", []), (ANSWERED_HEADER.encode(), name)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


@dataclass
class Side:
    name: str
    customer: dict[str, Any]
    subscription_id: str
    instance: str

    def values(self) -> dict[str, str]:
        return {
            self.customer["id"]: "<customer_id>",
            self.subscription_id: "<subscription_id>",
            self.customer["external_id"]: "<customer>",
            self.instance: "<instance>",
        }


@dataclass
class World:
    http: httpx.Client
    key: str
    read_only_key: str
    feature: dict[str, Any]
    flag: dict[str, Any]
    other: dict[str, Any]
    meter_event: str
    entitlement: str
    sides: dict[str, Side]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _flexprice(http: httpx.Client) -> tuple[dict[str, Any], ...]:
    meter = {
        "name": "calls",
        "event_name": unique("call"),
        "aggregation": {"type": "SUM", "field": "n"},
        "reset_usage": "BILLING_PERIOD",
    }
    feature = _ok(
        http.post(
            "/v1/features",
            json={
                "name": "Calls",
                "type": "metered",
                "lookup_key": unique("calls"),
                "meter": meter,
            },
        )
    )
    flag = _ok(
        http.post(
            "/v1/features", json={"name": "Flag", "type": "boolean", "lookup_key": unique("flag")}
        )
    )
    other = _ok(
        http.post(
            "/v1/features", json={"name": "Other", "type": "boolean", "lookup_key": unique("o")}
        )
    )
    plan = _ok(http.post("/v1/plans", json={"name": "P"}))
    price = {
        "entity_type": "PLAN",
        "entity_id": plan["id"],
        "type": "FIXED",
        "price_unit_type": "FIAT",
        "currency": "usd",
        "billing_model": "FLAT_FEE",
        "amount": "5",
        "billing_period": "MONTHLY",
        "invoice_cadence": "ADVANCE",
    }
    _ok(http.post("/v1/prices", json=price))
    for grant in (
        {"feature_id": feature["id"], "feature_type": "metered", "usage_limit": 100},
        {"feature_id": flag["id"], "feature_type": "boolean", "is_enabled": True},
    ):
        _ok(
            http.post(
                "/v1/entitlements",
                json={"plan_id": plan["id"], "usage_reset_period": "MONTHLY", **grant},
            )
        )
    return feature, flag, other, plan, meter


def _kaiten(http: httpx.Client) -> tuple[str, str]:
    slug = f"e-{uuid.uuid4().hex[:8]}"
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "/api/entitlements",
            {"name": slug, "slug": slug, "description": None, "aggregationMethod": "SUM"},
        ),
        ("/api/licenses", {"name": slug, "slug": f"{slug}-lic", "type": "PAID"}),
        (
            f"/api/licenses/{slug}-lic/entitlements",
            {"entitlementSlug": slug, "value": {"type": "number", "value": 1_000_000}},
        ),
    ]
    for path, body in steps:
        assert http.post(path, json=body).status_code in (200, 201, 204), path
    return slug, _ok(http.get(f"/api/licenses/{slug}-lic"))["id"]


def _side(http: httpx.Client, name: str, plan_id: str, slug: str, license_id: str) -> Side:
    external_id = unique(f"cust-{name}")
    customer = _ok(http.post("/v1/customers", json={"external_id": external_id, "name": "C"}))
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    subscription = _ok(
        http.post(
            "/v1/subscriptions",
            json={
                "customer_id": customer["id"],
                "plan_id": plan_id,
                "currency": "usd",
                "billing_period": "MONTHLY",
                "start_date": month.isoformat().replace("+00:00", "Z"),
            },
        )
    )
    kaiten_customer = _ok(http.post("/api/customers", json={"name": f"{name} customer"}))
    instance = f"{slug}-{name}"
    _ok(
        http.post(
            "/api/instances",
            json={
                "name": instance,
                "slug": instance,
                "customerId": kaiten_customer["id"],
                "licenseId": license_id,
                "startLicenseDate": "2026-01-01T00:00:00Z",
                "endLicenseDate": "2036-01-01T00:00:00Z",
            },
        )
    )
    return Side(name, customer, subscription["id"], instance)


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    if server.event_store == "clickhouse":
        pytest.skip("the in-process store cannot be opened by a second process")
    tenant: Tenant = new_tenant(server)
    read_only_key = mint_key(tenant, scopes=["read:instances", "read:billing"])
    app = create_app(Settings(database_url=server.database_url))
    with (
        serve_in_process(Switch(app)) as port,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"x-api-key": tenant.key, "authorization": f"Bearer {tenant.key}"},
            timeout=30,
        ) as http,
    ):
        feature, flag, other, plan, meter = _flexprice(http)
        slug, license_id = _kaiten(http)
        sides = {n: _side(http, n, plan["id"], slug, license_id) for n in ("fast", "framework")}
        yield World(
            http, tenant.key, read_only_key, feature, flag, other, meter["event_name"], slug, sides
        )


# --- the comparison -------------------------------------------------------------------------

FAST, DECLINED = "fast", "declined"
JSON = "application/json"
GENERATED_EVENT_ID = re.compile(r"event_[0-9A-HJKMNP-TV-Z]{26}")


@dataclass
class Case:
    name: str
    path: str  # a template over the world and the side: {instance}, {entitlement}, ...
    body: bytes | None = None  # a template too; None: no body
    content_type: str | None = JSON
    key: str = "key"  # "key", "read_only", "bad", "none"
    expect: str = FAST  # FAST: the fast path must take it; DECLINED: it must decline it

    def __str__(self) -> str:
        return self.name


def _fill(template: str, world: World, side: Side) -> str:
    values = {
        "customer_id": side.customer["id"],
        "customer": side.customer["external_id"],
        "instance": side.instance,
        "entitlement": world.entitlement,
        "feature_id": world.feature["id"],
        "feature_key": world.feature["lookup_key"],
        "flag_id": world.flag["id"],
        "other_id": world.other["id"],
        "meter_event": world.meter_event,
        "event_id": unique("ev"),
    }
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _normalized(response: httpx.Response, side: Side) -> Any:
    text = response.text
    for value, placeholder in sorted(side.values().items(), key=lambda i: -len(i[0])):
        text = text.replace(value, placeholder)
    text = GENERATED_EVENT_ID.sub("<generated>", text)
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        body.pop("timestamp", None)  # the clock's: the instant a report was counted
        if isinstance(body.get("event_id"), str) and body["event_id"].startswith("ev-"):
            body["event_id"] = "<sent>"
    return body


def _send(world: World, method: str, case: Case, side: Side) -> httpx.Response:
    headers: dict[str, str] = {"x-parity-side": side.name}
    if case.content_type is not None:
        headers["content-type"] = case.content_type
    if case.key == "bad":
        headers["x-api-key"] = headers["authorization"] = "sk_wrong"
        headers["authorization"] = "Bearer sk_wrong"
    elif case.key == "read_only":
        headers["x-api-key"] = world.read_only_key
        headers["authorization"] = f"Bearer {world.read_only_key}"
    request = world.http.build_request(
        method,
        _fill(case.path, world, side),
        content=None
        if case.body is None
        else _fill(case.body.decode("latin-1"), world, side).encode("latin-1"),
        headers=headers,
    )
    if case.key == "none":
        del request.headers["x-api-key"]
        del request.headers["authorization"]
    if case.content_type is None and case.body is not None:
        request.headers.pop("content-type", None)
    return world.http.send(request)


def _parity(world: World, method: str, route: str, case: Case) -> None:
    fast_side, framework_side = world.sides["fast"], world.sides["framework"]
    fast = _send(world, method, case, fast_side)
    framework = _send(world, method, case, framework_side)
    assert framework.headers[ANSWERED_HEADER] == "", "the framework side took a fast route"
    taken = fast.headers[ANSWERED_HEADER]
    assert taken == (route if case.expect == FAST else ""), (case.expect, taken, fast.text)
    assert fast.status_code == framework.status_code, (fast.text, framework.text)
    assert fast.headers.get("content-type") == framework.headers.get("content-type")
    assert _normalized(fast, fast_side) == _normalized(framework, framework_side)


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- POST /v1/events and /v1/events/bulk ----------------------------------------------------

EVENT = '{"event_name":"{meter_event}","external_customer_id":"{customer}","event_id":"{event_id}"'


def _event(rest: str = "") -> bytes:
    return (EVENT + rest + "}").encode()


INGEST = [
    Case("valid", "/v1/events", _event(',"properties":{"n":1}')),
    Case(
        "no event id",
        "/v1/events",
        b'{"event_name":"{meter_event}","external_customer_id":"{customer}"}',
    ),
    Case("charset", "/v1/events", _event(), "application/json; charset=utf-8"),
    Case("charset, upper case", "/v1/events", _event(), "Application/JSON;charset=UTF-8"),
    Case("no content type", "/v1/events", _event(), None, expect=DECLINED),
    Case("wrong content type", "/v1/events", _event(), "text/plain", expect=DECLINED),
    Case(
        "form content type",
        "/v1/events",
        _event(),
        "application/x-www-form-urlencoded",
        expect=DECLINED,
    ),
    Case(
        "a +json content type",
        "/v1/events",
        _event(),
        "application/merge-patch+json",
        expect=DECLINED,
    ),
    Case("malformed", "/v1/events", b'{"event_name":', expect=DECLINED),
    Case(
        "not UTF-8", "/v1/events", _event(',"source":"X"').replace(b"X", b"\xff"), expect=DECLINED
    ),
    Case("an array", "/v1/events", b"[]", expect=DECLINED),
    Case("null", "/v1/events", b"null", expect=DECLINED),
    Case("empty body", "/v1/events", b"", expect=DECLINED),
    Case(
        "missing event_name",
        "/v1/events",
        b'{"external_customer_id":"{customer}"}',
        expect=DECLINED,
    ),
    Case(
        "blank event_name",
        "/v1/events",
        b'{"event_name":" ","external_customer_id":"{customer}"}',
        expect=DECLINED,
    ),
    Case(
        "event_name a number",
        "/v1/events",
        b'{"event_name":5,"external_customer_id":"{customer}"}',
        expect=DECLINED,
    ),
    Case("properties an array", "/v1/events", _event(',"properties":[1]'), expect=DECLINED),
    Case("bad timestamp", "/v1/events", _event(',"timestamp":"yesterday"'), expect=DECLINED),
    Case(
        "extra and nested fields",
        "/v1/events",
        _event(',"extra":{"a":[1,{"b":2}]},"properties":{"n":{"m":[1]}}'),
    ),
    Case(
        "properties too deep",
        "/v1/events",
        _event(',"properties":' + '{"a":' * 9 + "1" + "}" * 9),
        expect=DECLINED,
    ),
    Case(
        "event_name too long",
        "/v1/events",
        b'{"event_name":"' + b"e" * 256 + b'","external_customer_id":"c"}',
        expect=DECLINED,
    ),
    Case(
        "properties too large",
        "/v1/events",
        _event(',"properties":{"s":"' + "x" * 70_000 + '"}'),
        expect=DECLINED,
    ),
    Case("no key", "/v1/events", _event(), key="none"),
    Case("bad key", "/v1/events", _event(), key="bad"),
    Case("read-only key", "/v1/events", _event(), key="read_only"),
    Case("malformed, no key", "/v1/events", b"{", key="none", expect=DECLINED),
    Case(
        "bulk",
        "/v1/events/bulk",
        b'{"events":[' + _event() + b"," + _event(',"properties":{"n":2}') + b"]}",
    ),
    Case(
        "bulk, a duplicate",
        "/v1/events/bulk",
        b'{"events":['
        + _event().replace(b"{event_id}", b"dup-{customer}")
        + b","
        + _event().replace(b"{event_id}", b"dup-{customer}")
        + b"]}",
    ),
    Case("bulk, no events", "/v1/events/bulk", b'{"events":[]}', expect=DECLINED),
    Case("bulk, events missing", "/v1/events/bulk", b"{}", expect=DECLINED),
    Case("bulk, events an object", "/v1/events/bulk", b'{"events":{}}', expect=DECLINED),
    Case(
        "bulk, one bad event",
        "/v1/events/bulk",
        b'{"events":[' + _event() + b',{"event_name":1}]}',
        expect=DECLINED,
    ),
    Case(
        "bulk, too many",
        "/v1/events/bulk",
        b'{"events":[' + b",".join([_event()] * 1001) + b"]}",
        expect=DECLINED,
    ),
    Case(
        "bulk, no content type",
        "/v1/events/bulk",
        b'{"events":[' + _event() + b"]}",
        None,
        expect=DECLINED,
    ),
    Case("bulk, no key", "/v1/events/bulk", b'{"events":[' + _event() + b"]}", key="none"),
]


@pytest.mark.parametrize("case", INGEST, ids=str)
def test_ingest(world: World, case: Case) -> None:
    route = "ingest_bulk" if case.path.endswith("/bulk") else "ingest_event"
    _parity(world, "POST", route, case)


# --- POST /v1/entitlements/check ------------------------------------------------------------

CHECK = "/v1/entitlements/check"
BY_ID = b'{"customer_id":"{customer_id}","feature_id":"{feature_id}"}'

CHECKS = [
    Case("granted, by ids", CHECK, BY_ID),
    Case(
        "granted, by external id and lookup key",
        CHECK,
        b'{"external_customer_id":"{customer}","feature_lookup_key":"{feature_key}"}',
    ),
    Case("granted flag", CHECK, b'{"customer_id":"{customer_id}","feature_id":"{flag_id}"}'),
    Case(
        "not granted",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{other_id}"}',
        expect=DECLINED,
    ),
    Case(
        "no such feature",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"nope"}',
        expect=DECLINED,
    ),
    Case("no such customer", CHECK, b'{"customer_id":"nope","feature_id":"{feature_id}"}'),
    Case("no feature", CHECK, b'{"customer_id":"{customer_id}"}', expect=DECLINED),
    Case("no customer", CHECK, b'{"feature_id":"{feature_id}"}', expect=DECLINED),
    Case("charset", CHECK, BY_ID, "application/json; charset=utf-8"),
    Case("granted, no content type", CHECK, BY_ID, None, expect=DECLINED),
    Case(
        "not granted, no content type",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{other_id}"}',
        None,
        expect=DECLINED,
    ),
    Case("wrong content type", CHECK, BY_ID, "text/plain", expect=DECLINED),
    Case("a +json content type", CHECK, BY_ID, "application/vnd.api+json", expect=DECLINED),
    Case("malformed", CHECK, b'{"customer_id":', expect=DECLINED),
    Case("empty body", CHECK, b"", expect=DECLINED),
    Case("an array", CHECK, b"[]", expect=DECLINED),
    Case(
        "customer_id a number",
        CHECK,
        b'{"customer_id":5,"feature_id":"{feature_id}"}',
        expect=DECLINED,
    ),
    Case(
        "extra and nested fields",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{feature_id}","x":{"y":[1]}}',
    ),
    Case(
        "customer_id too long",
        CHECK,
        b'{"customer_id":"' + b"c" * 65 + b'","feature_id":"{feature_id}"}',
        expect=DECLINED,
    ),
    Case(
        "consume",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{feature_id}","consume":2,"event_id":"{event_id}"}',
        expect=DECLINED,
    ),
    Case(
        "consume, no event id",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{feature_id}","consume":1}',
        expect=DECLINED,
    ),
    Case("after consumption", CHECK, BY_ID),
    Case(
        "consume, not a number",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{feature_id}","consume":"x"}',
        expect=DECLINED,
    ),
    Case(
        "consume too large",
        CHECK,
        b'{"customer_id":"{customer_id}","feature_id":"{feature_id}","consume":1e40}',
        expect=DECLINED,
    ),
    Case("no key", CHECK, BY_ID, key="none"),
    Case("bad key", CHECK, BY_ID, key="bad"),
    Case("read-only key", CHECK, BY_ID, key="read_only"),
    Case("malformed, no key", CHECK, b"{", key="none", expect=DECLINED),
]


@pytest.mark.parametrize("case", CHECKS, ids=str)
def test_entitlement_check(world: World, case: Case) -> None:
    _parity(world, "POST", "entitlement_check", case)


# --- GET /v1/customers/usage ----------------------------------------------------------------

SUMMARY = "/v1/customers/usage?"

SUMMARIES = [
    Case("by customer id", SUMMARY + "customer_id={customer_id}"),
    Case("by lookup key", SUMMARY + "customer_lookup_key={customer}"),
    Case("feature ids", SUMMARY + "customer_id={customer_id}&feature_ids={feature_id},{flag_id}"),
    Case(
        "feature lookup keys",
        SUMMARY + "customer_id={customer_id}&feature_lookup_keys={feature_key}",
    ),
    Case(
        "an unknown lookup key",
        SUMMARY + "customer_id={customer_id}&feature_lookup_keys=nope",
        expect=DECLINED,
    ),
    Case(
        "subscription ids",
        SUMMARY + "customer_id={customer_id}&subscription_ids=s1",
        expect=DECLINED,
    ),
    Case("customer id twice", SUMMARY + "customer_id={customer_id}&customer_id=x", expect=DECLINED),
    Case("an unknown parameter", SUMMARY + "customer_id={customer_id}&x=1", expect=DECLINED),
    Case(
        "too many feature ids",
        SUMMARY + "customer_id={customer_id}" + "&feature_ids=f" * 1001,
        expect=DECLINED,
    ),
    Case("no customer", SUMMARY),
    Case("no such customer", SUMMARY + "customer_id=nope"),
    Case("a body", SUMMARY + "customer_id={customer_id}", b"{oops", "text/plain"),
    Case("no key", SUMMARY + "customer_id={customer_id}", key="none"),
    Case("bad key", SUMMARY + "customer_id={customer_id}", key="bad"),
]


@pytest.mark.parametrize("case", SUMMARIES, ids=str)
def test_customer_usage_summary(world: World, case: Case) -> None:
    _parity(world, "GET", "customer_usage_summary", case)


# --- GET and POST /api/instances/{i}/entitlements/{e}/usage ---------------------------------

USAGE = "/api/instances/{instance}/entitlements/{entitlement}/usage"
ONE = b'{"value":{"type":"number","value":1}}'

# The report bodies of the former test_report_body.py, with what the fast path does.
REPORT_BODIES: list[tuple[str, bytes, str]] = [
    (JSON, b'{"value":{"type":"number","value":1},"behavior":"append"}', FAST),
    (JSON, b'{"value":{"type":"number","value":1.0}}', FAST),
    (JSON, b'{"value":{"type":"number","value":1e2}}', FAST),
    (JSON, b'{"value":{"type":"number","value":0.1}}', FAST),
    (JSON, b'{"value":{"type":"number","value":-0.0}}', FAST),
    (JSON, b'{"value":{"type":"number","value":0.12345678901234567890}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":123456789012345678901234567890}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":"7.25"}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":2,"event_count":3},"behavior":"set"}', FAST),
    (JSON, b'{"value":{"type":"number","value":2,"event_count":3.0}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":{"k":[1,2.5,null,"x"]}}', FAST),
    (
        JSON,
        b'{"value":{"type":"number","value":1},"metadata":null,"transactionId":"a.b:c-1"}',
        FAST,
    ),
    ("application/merge-patch+json", ONE, DECLINED),
    ("application/json; charset=utf-8", ONE, FAST),
    (JSON, b'{"value":{"type":"number","value":1},"behavior":"replace"}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"extra":1}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1,"extra":1}}', DECLINED),
    (JSON, b'{"value":{"type":"boolean","value":true}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":true}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":NaN}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1e400}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":"many"}}', DECLINED),
    (JSON, b'{"value":{"type":"number"}}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":"has space"}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":"trailing\\n"}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":""}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":[1]}', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"behavior":null}', DECLINED),
    (JSON, b'{"value": ', DECLINED),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":{"k":"\xff"}}', DECLINED),
    (JSON, b"[]", DECLINED),
    (JSON, b"null", DECLINED),
    (JSON, b"", DECLINED),
    (None, ONE, DECLINED),
    ("text/plain", ONE, DECLINED),
]

REPORTS = [
    Case(f"{content_type} {body!r}", USAGE, body, content_type, expect=expect)
    for content_type, body, expect in REPORT_BODIES
] + [
    Case("a large value", USAGE, b'{"value":{"type":"number","value":1e30}}', expect=DECLINED),
    Case("no such entitlement", USAGE.replace("{entitlement}", "nope"), ONE),
    Case("no such instance", USAGE.replace("{instance}", "nope"), ONE),
    Case("no key", USAGE, ONE, key="none"),
    Case("bad key", USAGE, ONE, key="bad"),
    Case("read-only key", USAGE, ONE, key="read_only"),
    Case("malformed, no key", USAGE, b"{", key="none", expect=DECLINED),
]


@pytest.mark.parametrize("case", REPORTS, ids=str)
def test_kaiten_report(world: World, case: Case) -> None:
    _parity(world, "POST", "kaiten_report_usage", case)


READS = [
    Case("read", USAGE),
    Case("no such entitlement", USAGE.replace("{entitlement}", "nope")),
    Case("no key", USAGE, key="none"),
    Case("bad key", USAGE, key="bad"),
    Case("a body", USAGE, b"{oops", "text/plain"),
]


@pytest.mark.parametrize("case", READS, ids=str)
def test_kaiten_read(world: World, case: Case) -> None:
    _parity(world, "GET", "kaiten_read_usage", case)


@pytest.mark.parametrize(("content_type", "body", "expect"), REPORT_BODIES)
def test_a_report_the_fast_path_reads_is_the_models_to_the_digit(
    content_type: str | None, body: bytes, expect: str
) -> None:
    """What the report answer shows of a value is its sum: the parsed report itself must be
    the model's, to the type and digit of its value."""
    parsed = parse_report(None, body)  # type: ignore[arg-type]
    if expect == DECLINED:
        if content_type in fastpath.JSON_CONTENT_TYPES:
            assert parsed is None
        return
    assert parsed is not None
    model = UsageReportIn.model_validate(json.loads(body))
    assert type(parsed.value.value) is type(model.value.value)
    assert str(parsed.value.value) == str(model.value.value)
    assert parsed.model_dump() == model.model_dump()


# --- the mechanism --------------------------------------------------------------------------


def test_each_fast_route_is_documented_once_by_the_route_it_shadows() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    spec = app.openapi()
    routes = fastpath.installed(app)
    assert {r.name for r in routes} == {
        "ingest_event",
        "ingest_bulk",
        "entitlement_check",
        "customer_usage_summary",
        "kaiten_read_usage",
        "kaiten_report_usage",
    }
    operation_ids = [
        operation["operationId"]
        for operations in spec["paths"].values()
        for operation in operations.values()
    ]
    for route in routes:
        operation = spec["paths"][route.path][route.method.lower()]
        assert operation_ids.count(operation["operationId"]) == 1
        shadowed = fastpath.shadowed_route(app, route)
        assert shadowed.endpoint is route.shadows
        if route.reads_body:
            assert "application/json" in operation["requestBody"]["content"]
    ingest = spec["paths"]["/v1/events/bulk"]["post"]["requestBody"]["content"][JSON]["schema"]
    assert ingest["properties"]["events"]["maxItems"] == 1000


def test_a_declaration_without_its_framework_route_is_refused() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    route = fastpath.installed(app)[0]

    async def elsewhere() -> None:
        return None

    stray = fastpath.FastRoute("stray", "GET", "/v1/nowhere", elsewhere, route.parse, route.answer)
    with pytest.raises(LookupError, match="stray"):
        fastpath.install(app, [stray])


def test_the_concurrency_limit_exempts_exactly_the_fast_routes_that_say_so() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    exempt = {(e.method, e.path): e.slot for e in fastpath.exemptions(app)}
    usage = "/api/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage"
    assert exempt == {
        ("POST", "/v1/events"): "none",
        ("POST", "/v1/events/bulk"): "none",
        ("POST", "/v1/entitlements/check"): "own",
        ("GET", "/v1/customers/usage"): "own",
        ("GET", usage): "own",
    }
    limit = ConcurrencyLimit(app, 1, fastpath.exemptions(app))

    def scope(method: str, path: str) -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path}

    read = scope("GET", "/api/instances/i-1/entitlements/e-1/usage")
    assert limit._exempt(read) and read[ConcurrencyLimit.SCOPE_KEY] is limit.limiter
    ingest = scope("POST", "/v1/events")
    assert limit._exempt(ingest) and ConcurrencyLimit.SCOPE_KEY not in ingest
    # The same paths at another method, a longer path and the report take a slot first.
    for method, path in [
        ("GET", "/v1/events"),
        ("POST", "/api/instances/i-1/entitlements/e-1/usage"),
        ("GET", "/api/instances/i-1/entitlements/e-1/usage/x"),
        ("GET", "/v1/customers"),
    ]:
        assert not limit._exempt(scope(method, path)), (method, path)
