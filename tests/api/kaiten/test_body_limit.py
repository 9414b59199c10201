"""/api refuses a body over 1 MiB with 413, as Kaiten does, before reading it into any
state; /v1 keeps its own, larger limit."""

from __future__ import annotations

import httpx

from tests.api.kaiten.conftest import granted_instance
from tests.conftest import Tenant

MIB = 1024 * 1024


def _report(size: int) -> bytes:
    head = b'{"value":{"type":"number","value":1},"metadata":{"note":"'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_usage_report_over_one_mib_is_refused_and_not_recorded(
    api: httpx.Client, tenant: Tenant
) -> None:
    instance, entitlement = granted_instance(api, 100)
    path = f"/instances/{instance}/entitlements/{entitlement}/usage"
    headers = {"content-type": "application/json"}
    too_big = api.post(path, content=_report(MIB + 1), headers=headers)
    assert too_big.status_code == 413, too_big.text
    problem = too_big.json()
    assert problem["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.11"
    assert problem["code"] == "PAYLOAD_TOO_LARGE"
    # Streamed without a declared length, it is refused as soon as it passes the limit.
    chunks = iter([_report(MIB + 1)[i : i + 65536] for i in range(0, MIB + 1, 65536)])
    streamed = api.post(path, content=chunks, headers=headers)
    assert streamed.status_code == 413, streamed.text
    usage = api.get(path).json()
    assert usage["value"]["value"] == 0
    assert "metadata" not in usage or not usage["metadata"]
    # The limit is the body's, not the report's: a small report goes through.
    assert api.post(path, json={"value": {"type": "number", "value": 2}}).status_code == 200
    assert api.get(path).json()["value"]["value"] == 2

    # /v1 keeps its 8 MiB limit: the same size is not refused for its size there.
    with tenant.client() as v1:
        body = b'{"events":[],"pad":"' + b"x" * (MIB + 1) + b'"}'
        answer = v1.post("/v1/events/bulk", content=body, headers=headers)
        assert answer.status_code != 413, answer.text
