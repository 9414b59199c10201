"""Property-based fuzzing of every /v1 and /api operation with schemathesis, against the
server's own OpenAPI document: no answer is a 5xx, and every answer conforms to the schema
the document gives for its status.

Besides what the document allows, the generated requests carry hostile values: date-times
whose UTC value lies outside the supported range (``9999-12-31T23:59:59-14:00``), lone
surrogates in JSON strings (``"\\ud800"``) and numbers with huge exponents
(``1e999999``, ``-1e400``, ``1e27``) in place of a JSON number or a decimal string.

CI runs ``METERLINE_FUZZ_EXAMPLES`` examples per operation (default 8) besides schemathesis's
coverage cases; docs/reliability.md reports a long run (e.g. ``METERLINE_FUZZ_EXAMPLES=200``).
Each case is generated once; an operation's cases take turns between the SQL backends'
servers (SQLite and, when configured, PostgreSQL), so each operation is fuzzed on both and
each case costs one answer. ``METERLINE_FUZZ_EVERY_SERVER=1`` sends every case to both.
The ClickHouse server is left out: its catalog is SQLite and the wire layer is the same.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from meterline.app import create_app
from meterline.settings import Settings
from tests.conftest import BACKENDS, Servers, Tenant, new_tenant

EXAMPLES = int(os.environ.get("METERLINE_FUZZ_EXAMPLES", "8"))
EVERY_SERVER = os.environ.get("METERLINE_FUZZ_EVERY_SERVER") == "1"
RESULTS = os.environ.get("METERLINE_FUZZ_RESULTS")  # a JSON-lines file of case counts
_cases: Counter[str] = Counter()

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(_SPEC).include(path_regex="^/(v1|api)/")

# --- hostile values --------------------------------------------------------------------

# RFC 3339 text whose UTC value lies outside 1970-01-01 .. 2200-01-01 (kernel.instants).
OUT_OF_RANGE_INSTANTS = (
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
)
LONE_SURROGATES = ("\ud800", "a\udfffb", "\udc00\ud800")
HUGE_NUMBERS = ("1e999999", "-1e400", "1e27")
# A number leaf becomes this marker; the JSON serializer below writes the raw number in its
# place, since no Python float holds 1e999999.
_RAW = "\x00raw-number:"
_RAW_IN_JSON = re.compile(r'"\\u0000raw-number:([-+0-9.eE]+)"')

schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(OUT_OF_RANGE_INSTANTS),
        st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30), timezones=st.just(UTC)
        ).map(lambda moment: moment.isoformat().replace("+00:00", "Z")),
    ),
)


def _json_with_raw_numbers(ctx: Any, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return _RAW_IN_JSON.sub(lambda m: m.group(1), json.dumps(value, default=str)).encode()


schemathesis.serializer("application/json")(_json_with_raw_numbers)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(item, rest, new) if i == head else item for i, item in enumerate(value)]


def _hostile(original: Any) -> st.SearchStrategy[Any]:
    numbers = st.sampled_from(HUGE_NUMBERS)
    if isinstance(original, str):
        return st.one_of(st.sampled_from(LONE_SURROGATES), numbers)
    return numbers.map(lambda text: _RAW + text)


@schema.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    """The generated body, or it with one string or number replaced by a hostile value."""
    leaves = list(_leaves(body))
    if not leaves:
        return st.just(body)
    mutated = st.sampled_from(leaves).flatmap(
        lambda leaf: _hostile(leaf[1]).map(lambda new: _replaced(body, leaf[0], new))
    )
    return st.one_of(st.just(body), mutated)


@schema.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    """The generated query, or it with one value replaced by a huge number or an instant
    out of range (no surrogates: a URL carries UTF-8, which cannot encode one)."""
    names = sorted(query or {})
    if not names:
        return st.just(query)
    hostile = st.sampled_from(HUGE_NUMBERS + OUT_OF_RANGE_INSTANTS)
    mutated = st.tuples(st.sampled_from(names), hostile).map(
        lambda pair: {**query, pair[0]: pair[1]}
    )
    return st.one_of(st.just(query), mutated)


@pytest.fixture(scope="module", autouse=True)
def _count_cases() -> Iterator[None]:
    yield
    if RESULTS:
        with open(RESULTS, "a") as out:
            out.write(json.dumps({"examples": EXAMPLES, "cases": dict(_cases)}) + "\n")


@pytest.fixture(scope="module")
def fuzz_tenants(servers: Servers) -> list[Tenant]:
    return [new_tenant(servers.get(backend)) for backend in BACKENDS if backend != "clickhouse"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_match_the_schema(
    case: schemathesis.Case, fuzz_tenants: list[Tenant]
) -> None:
    operation = f"{case.method} {case.path}"
    _cases[operation] += 1
    # An operation's cases take turns between the SQL servers: each server answers half of
    # them, and every operation reaches both (METERLINE_FUZZ_EVERY_SERVER=1: each case both).
    turn = fuzz_tenants if EVERY_SERVER else [fuzz_tenants[_cases[operation] % len(fuzz_tenants)]]
    for tenant in turn:
        try:
            case.call_and_validate(
                base_url=tenant.server.base_url,
                headers={"Authorization": f"Bearer {tenant.key}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )
        except BaseException as failure:
            failure.add_note(f"the server on {tenant.server.database_url.split(':')[0]}")
            raise
