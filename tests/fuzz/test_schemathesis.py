"""Property-based fuzzing of every /v1 and /api operation with schemathesis, against the
server's own OpenAPI document: no answer is a 5xx, and every answer conforms to the schema
the document gives for its status.

CI runs ``METERLINE_FUZZ_EXAMPLES`` examples per operation (default 8) on each database;
docs/reliability.md reports a long run (e.g. ``METERLINE_FUZZ_EXAMPLES=200``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from meterline.app import create_app
from meterline.config import Settings
from tests.conftest import Server, Tenant, new_tenant
from tests.security.conftest import skip_clickhouse

EXAMPLES = int(os.environ.get("METERLINE_FUZZ_EXAMPLES", "8"))
RESULTS = os.environ.get("METERLINE_FUZZ_RESULTS")  # a JSON-lines file of case counts
_cases: Counter[str] = Counter()

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(_SPEC).include(path_regex="^/(v1|api)/")


@pytest.fixture(scope="module", autouse=True)
def _count_cases() -> Iterator[None]:
    yield
    if RESULTS:
        with open(RESULTS, "a") as out:
            out.write(json.dumps({"examples": EXAMPLES, "cases": dict(_cases)}) + "\n")


@pytest.fixture(scope="module")
def fuzz_tenant(server: Server) -> Tenant:
    skip_clickhouse(server)
    return new_tenant(server)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_match_the_schema(case: schemathesis.Case, fuzz_tenant: Tenant) -> None:
    _cases[f"{case.method} {case.path}"] += 1
    case.call_and_validate(
        base_url=fuzz_tenant.server.base_url,
        headers={"Authorization": f"Bearer {fuzz_tenant.key}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )
